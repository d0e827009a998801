//! The log read as history: pages of the events one caller may see through its filters,
//! in either order, each page a bounded scan; and where a rewound stream starts.
//!
//! Filters are applied here, not in the engines: a page asks its engine for ranges of
//! ids, a chunk at a time, and keeps what the filter and the caller's access let through
//! (exactly the test a stream applies, [`Access::may_see`]). A page looks at no more than
//! its budget of events, so a filter that matches nothing costs a bounded read, not a
//! scan of the whole history; the page then ends early and says where to go on.

use std::sync::Arc;

use taskhub_core::{EventFrame, EventId, Filter};
use taskhub_engine::{EngineError, IdRange, Order};

use crate::auth::Access;
use crate::backend::EventLog;

/// Events asked of the engine per read.
const CHUNK: usize = 500;
/// Most events one page of `GET /events` looks at.
pub(crate) const PAGE_BUDGET: usize = 20_000;
/// Most events a rewound stream looks back over to find its newest matching ones.
const REWIND_BUDGET: usize = 100_000;

/// Which events a caller wants, and may see.
#[derive(Debug)]
pub(crate) struct Selection {
    pub(crate) filter: Filter,
    pub(crate) access: Access,
}

impl Selection {
    fn wants(&self, frame: &EventFrame) -> bool {
        self.filter.matches(frame.event_type(), frame.topic()) && self.access.may_see(frame)
    }
}

/// A page of history.
#[derive(Debug)]
pub(crate) struct Page {
    /// The events selected, in the order read.
    pub(crate) events: Vec<Arc<EventFrame>>,
    /// Where the next page continues (the last id looked at), when the range may hold
    /// more: the page is full, or its budget ran out first.
    pub(crate) next: Option<EventId>,
}

/// Up to `limit` of the events in `range` that `selection` wants, walking in `order`,
/// looking at no more than `budget` events.
pub(crate) async fn page(
    log: &EventLog,
    selection: &Selection,
    mut range: IdRange,
    order: Order,
    limit: usize,
    budget: usize,
) -> Result<Page, EngineError> {
    let mut events = Vec::new();
    let mut looked_at = 0;
    loop {
        let asked = CHUNK.min(budget - looked_at);
        if asked == 0 {
            let next = match order {
                Order::Ascending => range.after,
                Order::Descending => range.before.unwrap_or(EventId::ZERO),
            };
            return Ok(Page {
                events,
                next: Some(next),
            });
        }
        let chunk = log.read(range, order, asked).await?;
        let last_chunk = chunk.len() < asked;
        let count = chunk.len();
        looked_at += count;
        for (index, frame) in chunk.into_iter().enumerate() {
            match order {
                Order::Ascending => range.after = frame.id(),
                Order::Descending => range.before = Some(frame.id()),
            }
            let id = frame.id();
            if selection.wants(&frame) {
                events.push(frame);
                if events.len() == limit {
                    // Full: whether a next page exists is known, unless the page ended
                    // with a full chunk, which one more read of one event tells.
                    let more = index + 1 < count
                        || (!last_chunk && !log.read(range, order, 1).await?.is_empty());
                    return Ok(Page {
                        events,
                        next: more.then_some(id),
                    });
                }
            }
        }
        if last_chunk {
            return Ok(Page { events, next: None });
        }
    }
}

/// The id a stream rewound by `count` events replays after: just before the oldest of
/// the newest `count` events `selection` wants (fewer if the history, or the
/// [`REWIND_BUDGET`] looked back over, holds fewer), or `None` when it holds none.
pub(crate) async fn rewind_start(
    log: &EventLog,
    selection: &Selection,
    count: usize,
) -> Result<Option<EventId>, EngineError> {
    if count == 0 {
        return Ok(None);
    }
    let newest = page(
        log,
        selection,
        IdRange::ALL,
        Order::Descending,
        count,
        REWIND_BUDGET,
    )
    .await?;
    Ok(newest
        .events
        .last()
        .map(|oldest| EventId::new(oldest.id().get() - 1)))
}
