//! Routing: agents (skills, capacity, status), the handoffs each holds, and handoffs
//! waiting in a queue. Every mutation runs on the single writer, so a claim's check of
//! capacity and its insert cannot interleave with another claim.

use crate::SqliteStore;
use crate::rows::{col, col_json, col_ts, exec, query_all, query_opt, to_json, to_ms};
use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use tandem_core::store::{
    AgentProfile, AgentRecord, AgentStatus, QueuedHandoff, Routing, StoreError, priority_rank,
};
use tandem_model::{ConversationId, Timestamp};

const AGENT_COLUMNS: &str = "id, name, skills, capacity, status, updated_at";

fn agent_row(row: &Row<'_>) -> Result<(AgentProfile, Timestamp), StoreError> {
    let status: String = col(row, 4)?;
    let capacity: i64 = col(row, 3)?;
    Ok((
        AgentProfile {
            id: col(row, 0)?,
            name: col(row, 1)?,
            skills: col_json(row, 2, "agent skills")?,
            capacity: u32::try_from(capacity)
                .map_err(|_| StoreError::Corrupt(format!("agent capacity {capacity}")))?,
            status: AgentStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("agent status `{status}`")))?,
        },
        col_ts(row, 5)?,
    ))
}

fn held(conn: &Connection, agent: &str) -> Result<Vec<String>, StoreError> {
    query_all(
        conn,
        "SELECT handoff_id FROM agent_handoffs WHERE agent_id = ?1 ORDER BY ord, handoff_id",
        params![agent],
        |row| col(row, 0),
    )
}

fn record(
    conn: &Connection,
    (profile, updated_at): (AgentProfile, Timestamp),
) -> Result<AgentRecord, StoreError> {
    let active = held(conn, &profile.id)?;
    Ok(AgentRecord {
        profile,
        active,
        updated_at,
    })
}

/// An agent by id (on the writer too, when a write returns the agent).
fn agent(conn: &Connection, id: &str) -> Result<Option<AgentRecord>, StoreError> {
    let row = query_all(
        conn,
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
        params![id],
        agent_row,
    )?
    .into_iter()
    .next();
    row.map(|r| record(conn, r)).transpose()
}

fn holder(conn: &Connection, handoff: &str) -> Result<Option<String>, StoreError> {
    query_opt(
        conn,
        "SELECT agent_id FROM agent_handoffs WHERE handoff_id = ?1",
        params![handoff],
        |row| col(row, 0),
    )
}

fn hold(conn: &Connection, agent: &str, handoff: &str, now: Timestamp) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO agent_handoffs (handoff_id, agent_id, ord)
         VALUES (?1, ?2, (SELECT coalesce(max(ord), 0) + 1 FROM agent_handoffs))
         ON CONFLICT (handoff_id) DO UPDATE SET agent_id = excluded.agent_id,
           ord = excluded.ord",
        params![handoff, agent],
    )?;
    touch(conn, agent, now)
}

fn touch(conn: &Connection, agent: &str, now: Timestamp) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE agents SET updated_at = ?2 WHERE id = ?1",
        params![agent, to_ms(now)],
    )?;
    Ok(())
}

#[async_trait]
impl Routing for SqliteStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError> {
        let profile = profile.clone();
        self.write(move |conn| {
            let skills = to_json("agent skills", &profile.skills)?;
            exec(
                conn,
                "INSERT INTO agents (id, name, skills, capacity, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, skills = excluded.skills,
                   capacity = excluded.capacity, status = excluded.status,
                   updated_at = excluded.updated_at",
                params![
                    profile.id,
                    profile.name,
                    skills,
                    i64::from(profile.capacity),
                    profile.status.as_str(),
                    to_ms(now),
                ],
            )?;
            agent(conn, &profile.id)?
                .ok_or_else(|| StoreError::Unavailable("agent vanished after its write".into()))
        })
        .await
    }

    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| agent(conn, &id)).await
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
                [],
                agent_row,
            )?
            .into_iter()
            .map(|r| record(conn, r))
            .collect()
        })
        .await
    }

    async fn delete_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            let Some(before) = agent(conn, &id)? else {
                return Ok(None);
            };
            exec(
                conn,
                "DELETE FROM agent_handoffs WHERE agent_id = ?1",
                params![id],
            )?;
            exec(conn, "DELETE FROM agents WHERE id = ?1", params![id])?;
            Ok(Some(before))
        })
        .await
    }

    async fn claim_agent(
        &self,
        skill: &str,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let (skill, handoff) = (skill.to_owned(), handoff.to_owned());
        self.write(move |conn| {
            if let Some(current) = holder(conn, &handoff)? {
                return agent(conn, &current);
            }
            // Candidates with the skill, least loaded first, ties by id.
            let candidates = query_all(
                conn,
                "SELECT a.id FROM agents a
                 WHERE a.status = 'available'
                   AND EXISTS (SELECT 1 FROM json_each(a.skills) s WHERE s.value = ?1)
                   AND a.capacity > (SELECT count(*) FROM agent_handoffs h WHERE h.agent_id = a.id)
                 ORDER BY (SELECT count(*) FROM agent_handoffs h WHERE h.agent_id = a.id), a.id
                 LIMIT 1",
                params![skill],
                |row| col::<String>(row, 0),
            )?;
            let Some(chosen) = candidates.into_iter().next() else {
                return Ok(None);
            };
            hold(conn, &chosen, &handoff, now)?;
            agent(conn, &chosen)
        })
        .await
    }

    async fn bind_agent(
        &self,
        agent_id: &str,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let (agent_id, handoff) = (agent_id.to_owned(), handoff.to_owned());
        self.write(move |conn| {
            if agent(conn, &agent_id)?.is_none() {
                return Ok(None);
            }
            if holder(conn, &handoff)?.as_deref() != Some(agent_id.as_str()) {
                if let Some(previous) = holder(conn, &handoff)? {
                    touch(conn, &previous, now)?;
                }
                hold(conn, &agent_id, &handoff, now)?;
            }
            agent(conn, &agent_id)
        })
        .await
    }

    async fn release_agent(
        &self,
        handoff: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let handoff = handoff.to_owned();
        self.write(move |conn| {
            let released: Option<String> = query_opt(
                conn,
                "DELETE FROM agent_handoffs WHERE handoff_id = ?1 RETURNING agent_id",
                params![handoff],
                |row| col(row, 0),
            )?;
            if let Some(agent) = &released {
                touch(conn, agent, now)?;
            }
            Ok(released)
        })
        .await
    }

    async fn enqueue_handoff(&self, entry: &QueuedHandoff) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO handoff_queue (handoff_id, conversation_id, queue, priority, rank, queued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (handoff_id) DO NOTHING",
                params![
                    entry.handoff_id,
                    entry.conversation_id.as_str(),
                    entry.queue,
                    entry.priority,
                    i64::from(priority_rank(&entry.priority)),
                    to_ms(entry.queued_at),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn dequeue_handoff(&self, handoff: &str) -> Result<bool, StoreError> {
        let handoff = handoff.to_owned();
        self.write(move |conn| {
            let n = exec(
                conn,
                "DELETE FROM handoff_queue WHERE handoff_id = ?1",
                params![handoff],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn queued_handoffs(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                "SELECT handoff_id, conversation_id, queue, priority, queued_at FROM handoff_queue
                 ORDER BY rank, queued_at, handoff_id",
                [],
                |row| {
                    Ok(QueuedHandoff {
                        handoff_id: col(row, 0)?,
                        conversation_id: ConversationId::new(col::<String>(row, 1)?),
                        queue: col(row, 2)?,
                        priority: col(row, 3)?,
                        queued_at: col_ts(row, 4)?,
                    })
                },
            )
        })
        .await
    }
}
