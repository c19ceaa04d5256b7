//! Routing in MongoDB: `agents` (one document per agent, holding the ids of its handoffs
//! in `active` and their count in `load`) and `handoff_queue` (one document per waiting
//! handoff, `_id` = handoff id, read in `(rank, queued_at, _id)` order).
//!
//! A claim is one `findOneAndUpdate` whose filter requires the skill, `available` and
//! `load < capacity`, sorted by `(load, _id)`: atomic on the chosen agent document, so
//! concurrent claims never exceed capacity. One handoff is held by one agent at most: a
//! unique index on `active` (partial on `load > 0`, so agents holding nothing do not
//! collide on the empty array) refuses a second holder, and a claim that loses that race
//! answers the agent that won it.

use crate::MongoStore;
use crate::docs::{check_schema, collect, decode, from_datetime, to_datetime};
use crate::error::{classify, is_duplicate_key};
use crate::schema::Collections;
use async_trait::async_trait;
use bson::{DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};
use serde::{Deserialize, Serialize};
use tandem_core::store::{
    AgentProfile, AgentRecord, AgentStatus, QueuedHandoff, Routing, StoreError, priority_rank,
};
use tandem_model::{ConversationId, Timestamp};

/// The agents collection.
pub(crate) const AGENTS: &str = "agents";
/// The waiting handoffs collection.
pub(crate) const HANDOFF_QUEUE: &str = "handoff_queue";
/// Schema version of both collections' documents.
const SCHEMA_VERSION: i32 = 1;

/// One agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AgentDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    #[serde(default)]
    pub(crate) name: Option<String>,
    pub(crate) skills: Vec<String>,
    pub(crate) capacity: i64,
    pub(crate) status: String,
    /// Held handoff ids, oldest first.
    #[serde(default)]
    pub(crate) active: Vec<String>,
    /// `active.len()`, kept beside it so that claims can filter and sort on it.
    #[serde(default)]
    pub(crate) load: i64,
    pub(crate) updated_at: DateTime,
}

impl AgentDoc {
    pub(crate) fn into_record(self) -> Result<AgentRecord, StoreError> {
        check_schema("agent", self.schema_version)?;
        let status = AgentStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("agent status `{}`", self.status)))?;
        Ok(AgentRecord {
            profile: AgentProfile {
                id: self.id,
                name: self.name,
                skills: self.skills,
                capacity: u32::try_from(self.capacity).map_err(|_| {
                    StoreError::Corrupt(format!("agent capacity {}", self.capacity))
                })?,
                status,
            },
            active: self.active,
            updated_at: from_datetime(self.updated_at)?,
        })
    }

    /// The profile fields an upsert sets (the held handoffs are left alone).
    pub(crate) fn set_profile(profile: &AgentProfile, now: Timestamp) -> Document {
        doc! {
            "$set": {
                "schema_version": SCHEMA_VERSION,
                "name": profile.name.clone(),
                "skills": profile.skills.clone(),
                "capacity": i64::from(profile.capacity),
                "status": profile.status.as_str(),
                "updated_at": to_datetime(now),
            },
            "$setOnInsert": { "active": Vec::<String>::new(), "load": 0_i64 },
        }
    }

    /// Agents that can take one more handoff of `skill`, `handoff`, and do not hold it
    /// already (a unique index does not stop one document holding a value twice, so two
    /// concurrent claims must not both pick the same agent).
    pub(crate) fn can_take(skill: &str, handoff: &str) -> Document {
        doc! {
            "status": AgentStatus::Available.as_str(),
            "skills": skill,
            "active": { "$ne": handoff },
            "$expr": { "$lt": ["$load", "$capacity"] },
        }
    }

    /// The agent holding `handoff` (repeats the partial filter of its unique index).
    pub(crate) fn holding(handoff: &str) -> Document {
        doc! { "active": handoff, "load": { "$gt": 0_i64 } }
    }

    /// Adds a handoff to an agent's held list.
    pub(crate) fn hold(handoff: &str, now: Timestamp) -> Document {
        doc! {
            "$push": { "active": handoff },
            "$inc": { "load": 1_i64 },
            "$set": { "updated_at": to_datetime(now) },
        }
    }

    /// Removes a handoff from an agent's held list (filter on `active: handoff`).
    pub(crate) fn unhold(handoff: &str, now: Timestamp) -> Document {
        doc! {
            "$pull": { "active": handoff },
            "$inc": { "load": -1_i64 },
            "$set": { "updated_at": to_datetime(now) },
        }
    }

    pub(crate) fn indexes() -> Vec<IndexModel> {
        vec![
            IndexModel::builder()
                .keys(doc! { "active": 1 })
                .options(
                    IndexOptions::builder()
                        .name("agents_holder".to_owned())
                        .unique(true)
                        .partial_filter_expression(doc! { "load": { "$gt": 0_i64 } })
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { "skills": 1, "status": 1, "load": 1 })
                .options(
                    IndexOptions::builder()
                        .name("agents_claim".to_owned())
                        .build(),
                )
                .build(),
        ]
    }
}

/// One waiting handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueueDoc {
    #[serde(rename = "_id")]
    pub(crate) handoff_id: String,
    pub(crate) schema_version: i32,
    pub(crate) conversation_id: String,
    pub(crate) queue: String,
    pub(crate) priority: String,
    pub(crate) rank: i32,
    pub(crate) queued_at: DateTime,
}

impl QueueDoc {
    pub(crate) fn from_entry(e: &QueuedHandoff) -> Self {
        Self {
            handoff_id: e.handoff_id.clone(),
            schema_version: SCHEMA_VERSION,
            conversation_id: e.conversation_id.as_str().to_owned(),
            queue: e.queue.clone(),
            priority: e.priority.clone(),
            rank: i32::from(priority_rank(&e.priority)),
            queued_at: to_datetime(e.queued_at),
        }
    }

    pub(crate) fn into_entry(self) -> Result<QueuedHandoff, StoreError> {
        check_schema("queued handoff", self.schema_version)?;
        Ok(QueuedHandoff {
            handoff_id: self.handoff_id,
            conversation_id: ConversationId::new(self.conversation_id),
            queue: self.queue,
            priority: self.priority,
            queued_at: from_datetime(self.queued_at)?,
        })
    }

    pub(crate) fn queue_order() -> Document {
        doc! { "rank": 1, "queued_at": 1, "_id": 1 }
    }

    pub(crate) fn indexes() -> Vec<IndexModel> {
        vec![
            IndexModel::builder()
                .keys(Self::queue_order())
                .options(
                    IndexOptions::builder()
                        .name("handoff_queue_order".to_owned())
                        .build(),
                )
                .build(),
        ]
    }
}

async fn find_agent(c: &Collections, filter: Document) -> Result<Option<AgentRecord>, StoreError> {
    c.agents
        .find_one(filter)
        .await
        .map_err(classify)?
        .map(|d| decode::<AgentDoc>("agent", d)?.into_record())
        .transpose()
}

/// How often `bind_agent` retries when concurrent claims keep taking the handoff.
const BIND_RETRIES: usize = 5;

#[async_trait]
impl Routing for MongoStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError> {
        self.bounded(async |c| {
            let updated = c
                .agents
                .find_one_and_update(
                    doc! { "_id": &profile.id },
                    AgentDoc::set_profile(profile, now),
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await
                .map_err(classify)?
                .ok_or_else(|| StoreError::Unavailable("upsert returned no agent".into()))?;
            decode::<AgentDoc>("agent", updated)?.into_record()
        })
        .await
    }

    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.bounded(async |c| find_agent(c, doc! { "_id": id }).await)
            .await
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .agents
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .await
                .map_err(classify)?;
            collect(cursor, |d| decode::<AgentDoc>("agent", d)?.into_record()).await
        })
        .await
    }

    async fn delete_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.bounded(async |c| {
            c.agents
                .find_one_and_delete(doc! { "_id": id })
                .await
                .map_err(classify)?
                .map(|d| decode::<AgentDoc>("agent", d)?.into_record())
                .transpose()
        })
        .await
    }

    async fn claim_agent(
        &self,
        skill: &str,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        self.bounded(async |c| {
            if let Some(current) = find_agent(c, AgentDoc::holding(handoff)).await? {
                return Ok(Some(current));
            }
            let claimed = c
                .agents
                .find_one_and_update(
                    AgentDoc::can_take(skill, handoff),
                    AgentDoc::hold(handoff, now),
                )
                .sort(doc! { "load": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await;
            match claimed {
                Ok(found) => found
                    .map(|d| decode::<AgentDoc>("agent", d)?.into_record())
                    .transpose(),
                // A concurrent claim gave it to another agent first: that one holds it.
                Err(e) if is_duplicate_key(&e) => find_agent(c, AgentDoc::holding(handoff)).await,
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn bind_agent(
        &self,
        agent_id: &str,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        self.bounded(async |c| {
            if find_agent(c, doc! { "_id": agent_id }).await?.is_none() {
                return Ok(None);
            }
            let mut last = None;
            // A concurrent claim may take the handoff between the release and the hold.
            for _ in 0..BIND_RETRIES {
                c.agents
                    .update_many(
                        doc! { "active": handoff, "load": { "$gt": 0_i64 }, "_id": { "$ne": agent_id } },
                        AgentDoc::unhold(handoff, now),
                    )
                    .await
                    .map_err(classify)?;
                let held = c
                    .agents
                    .update_one(
                        doc! { "_id": agent_id, "active": { "$ne": handoff } },
                        AgentDoc::hold(handoff, now),
                    )
                    .await;
                match held {
                    Ok(_) => return find_agent(c, doc! { "_id": agent_id }).await,
                    Err(e) if is_duplicate_key(&e) => last = Some(classify(e)),
                    Err(e) => return Err(classify(e)),
                }
            }
            Err(last.unwrap_or_else(|| StoreError::Conflict(format!("binding handoff {handoff}"))))
        })
        .await
    }

    async fn release_agent(
        &self,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        self.bounded(async |c| {
            let before = c
                .agents
                .find_one_and_update(AgentDoc::holding(handoff), AgentDoc::unhold(handoff, now))
                .await
                .map_err(classify)?;
            Ok(before.and_then(|d| d.get_str("_id").ok().map(str::to_owned)))
        })
        .await
    }

    async fn enqueue_handoff(&self, entry: &QueuedHandoff) -> Result<(), StoreError> {
        self.bounded(async |c| {
            let doc = crate::docs::encode("queued handoff", &QueueDoc::from_entry(entry))?;
            match c.handoff_queue.insert_one(doc).await {
                Ok(_) => Ok(()),
                Err(e) if is_duplicate_key(&e) => Ok(()),
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn dequeue_handoff(&self, handoff: &str) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let deleted = c
                .handoff_queue
                .delete_one(doc! { "_id": handoff })
                .await
                .map_err(classify)?;
            Ok(deleted.deleted_count > 0)
        })
        .await
    }

    async fn queued_handoffs(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .handoff_queue
                .find(doc! {})
                .sort(QueueDoc::queue_order())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<QueueDoc>("queued handoff", d)?.into_entry()
            })
            .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> AgentProfile {
        AgentProfile {
            id: "U01".into(),
            name: Some("Ada".into()),
            skills: vec!["billing".into(), "sales".into()],
            capacity: 3,
            status: AgentStatus::Away,
        }
    }

    #[test]
    fn agent_documents_round_trip_through_bson() {
        let now = tandem_model::now();
        let doc = AgentDoc {
            id: "U01".into(),
            schema_version: SCHEMA_VERSION,
            name: Some("Ada".into()),
            skills: vec!["billing".into(), "sales".into()],
            capacity: 3,
            status: "away".into(),
            active: vec!["h1".into()],
            load: 1,
            updated_at: to_datetime(now),
        };
        let bson = crate::docs::encode("agent", &doc).unwrap();
        let back: AgentDoc = decode("agent", bson).unwrap();
        let record = back.into_record().unwrap();
        assert_eq!(record.profile, profile());
        assert_eq!(record.active, ["h1"]);
        assert_eq!(record.updated_at, now);
    }

    #[test]
    fn corrupt_agents_are_errors_not_panics() {
        let mut doc = AgentDoc {
            id: "U01".into(),
            schema_version: SCHEMA_VERSION,
            name: None,
            skills: vec![],
            capacity: -1,
            status: "available".into(),
            active: vec![],
            load: 0,
            updated_at: to_datetime(tandem_model::now()),
        };
        assert!(matches!(
            doc.clone().into_record(),
            Err(StoreError::Corrupt(_))
        ));
        doc.capacity = 1;
        doc.status = "asleep".into();
        assert!(matches!(doc.into_record(), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn the_profile_update_never_touches_held_handoffs() {
        let update = AgentDoc::set_profile(&profile(), tandem_model::now());
        let set = update.get_document("$set").unwrap();
        assert!(!set.contains_key("active") && !set.contains_key("load"));
        let on_insert = update.get_document("$setOnInsert").unwrap();
        assert!(on_insert.contains_key("active") && on_insert.contains_key("load"));
        assert_eq!(set.get_str("status").unwrap(), "away");
    }

    #[test]
    fn the_claim_filter_requires_skill_availability_and_room() {
        let filter = AgentDoc::can_take("billing", "h1");
        assert_eq!(filter.get_str("skills").unwrap(), "billing");
        assert_eq!(
            filter.get_document("active").unwrap(),
            &doc! { "$ne": "h1" }
        );
        assert_eq!(filter.get_str("status").unwrap(), "available");
        assert_eq!(
            filter.get_document("$expr").unwrap(),
            &doc! { "$lt": ["$load", "$capacity"] }
        );
    }

    #[test]
    fn queue_documents_round_trip_and_rank_by_priority() {
        let now = tandem_model::now();
        let entry = QueuedHandoff {
            handoff_id: "h1".into(),
            conversation_id: ConversationId::new("conv_1"),
            queue: "compliance".into(),
            priority: "immediate".into(),
            queued_at: now,
        };
        let doc = QueueDoc::from_entry(&entry);
        assert_eq!(doc.rank, 0);
        let bson = crate::docs::encode("queued handoff", &doc).unwrap();
        assert_eq!(bson.get_str("_id").unwrap(), "h1");
        let back: QueueDoc = decode("queued handoff", bson).unwrap();
        assert_eq!(back.into_entry().unwrap(), entry);
    }
}
