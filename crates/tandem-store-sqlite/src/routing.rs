//! Routing: agents (skills, capacity, status), the handoffs each holds, and handoffs
//! waiting in a queue. Every mutation runs on the single writer, so a claim's check of
//! capacity and its insert cannot interleave with another claim.

use crate::rows::{col, col_json, col_ts, query_all, sql_error, to_json, to_ms};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_core::store::{
    AgentProfile, AgentRecord, AgentStatus, QueuedHandoff, StoreError, priority_rank,
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

/// See [`Routing::agent`](tandem_core::store::Routing::agent).
pub(crate) fn agent(conn: &Connection, id: &str) -> Result<Option<AgentRecord>, StoreError> {
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

/// See [`Routing::agents`](tandem_core::store::Routing::agents).
pub(crate) fn agents(conn: &Connection) -> Result<Vec<AgentRecord>, StoreError> {
    query_all(
        conn,
        &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
        [],
        agent_row,
    )?
    .into_iter()
    .map(|r| record(conn, r))
    .collect()
}

/// See [`Routing::put_agent`](tandem_core::store::Routing::put_agent).
pub(crate) fn put_agent(
    conn: &Connection,
    profile: &AgentProfile,
    now: Timestamp,
) -> Result<AgentRecord, StoreError> {
    let skills = to_json("agent skills", &profile.skills)?;
    conn.prepare_cached(
        "INSERT INTO agents (id, name, skills, capacity, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, skills = excluded.skills,
           capacity = excluded.capacity, status = excluded.status,
           updated_at = excluded.updated_at",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            profile.id,
            profile.name,
            skills,
            i64::from(profile.capacity),
            profile.status.as_str(),
            to_ms(now),
        ])
    })
    .map_err(sql_error)?;
    agent(conn, &profile.id)?
        .ok_or_else(|| StoreError::Unavailable("agent vanished after its write".into()))
}

/// See [`Routing::delete_agent`](tandem_core::store::Routing::delete_agent).
pub(crate) fn delete_agent(conn: &Connection, id: &str) -> Result<Option<AgentRecord>, StoreError> {
    let Some(before) = agent(conn, id)? else {
        return Ok(None);
    };
    conn.prepare_cached("DELETE FROM agent_handoffs WHERE agent_id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id]))
        .map_err(sql_error)?;
    conn.prepare_cached("DELETE FROM agents WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id]))
        .map_err(sql_error)?;
    Ok(Some(before))
}

fn holder(conn: &Connection, handoff: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT agent_id FROM agent_handoffs WHERE handoff_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![handoff], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)
}

fn hold(conn: &Connection, agent: &str, handoff: &str, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO agent_handoffs (handoff_id, agent_id, ord)
         VALUES (?1, ?2, (SELECT coalesce(max(ord), 0) + 1 FROM agent_handoffs))
         ON CONFLICT (handoff_id) DO UPDATE SET agent_id = excluded.agent_id,
           ord = excluded.ord",
    )
    .and_then(|mut stmt| stmt.execute(params![handoff, agent]))
    .map_err(sql_error)?;
    touch(conn, agent, now)
}

fn touch(conn: &Connection, agent: &str, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE agents SET updated_at = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![agent, to_ms(now)]))
        .map_err(sql_error)?;
    Ok(())
}

/// See [`Routing::claim_agent`](tandem_core::store::Routing::claim_agent).
pub(crate) fn claim_agent(
    conn: &Connection,
    skill: &str,
    handoff: &str,
    now: Timestamp,
) -> Result<Option<AgentRecord>, StoreError> {
    if let Some(current) = holder(conn, handoff)? {
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
    hold(conn, &chosen, handoff, now)?;
    agent(conn, &chosen)
}

/// See [`Routing::bind_agent`](tandem_core::store::Routing::bind_agent).
pub(crate) fn bind_agent(
    conn: &Connection,
    agent_id: &str,
    handoff: &str,
    now: Timestamp,
) -> Result<Option<AgentRecord>, StoreError> {
    if agent(conn, agent_id)?.is_none() {
        return Ok(None);
    }
    if holder(conn, handoff)?.as_deref() != Some(agent_id) {
        if let Some(previous) = holder(conn, handoff)? {
            touch(conn, &previous, now)?;
        }
        hold(conn, agent_id, handoff, now)?;
    }
    agent(conn, agent_id)
}

/// See [`Routing::release_agent`](tandem_core::store::Routing::release_agent).
pub(crate) fn release_agent(
    conn: &Connection,
    handoff: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let released: Option<String> = conn
        .prepare_cached("DELETE FROM agent_handoffs WHERE handoff_id = ?1 RETURNING agent_id")
        .and_then(|mut stmt| {
            stmt.query_row(params![handoff], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)?;
    if let Some(agent) = &released {
        touch(conn, agent, now)?;
    }
    Ok(released)
}

/// See [`Routing::enqueue_handoff`](tandem_core::store::Routing::enqueue_handoff).
pub(crate) fn enqueue(conn: &Connection, entry: &QueuedHandoff) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO handoff_queue (handoff_id, conversation_id, queue, priority, rank, queued_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (handoff_id) DO NOTHING",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            entry.handoff_id,
            entry.conversation_id.as_str(),
            entry.queue,
            entry.priority,
            i64::from(priority_rank(&entry.priority)),
            to_ms(entry.queued_at),
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

/// See [`Routing::dequeue_handoff`](tandem_core::store::Routing::dequeue_handoff).
pub(crate) fn dequeue(conn: &Connection, handoff: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM handoff_queue WHERE handoff_id = ?1")
        .and_then(|mut stmt| stmt.execute(params![handoff]))
        .map_err(sql_error)?;
    Ok(n > 0)
}

/// See [`Routing::queued_handoffs`](tandem_core::store::Routing::queued_handoffs).
pub(crate) fn queued(conn: &Connection) -> Result<Vec<QueuedHandoff>, StoreError> {
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
}
