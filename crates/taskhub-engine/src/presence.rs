//! Presence, as every engine keeps it: which streams are open on which `topics=`
//! selector, who they belong to, and when a change is worth announcing.
//!
//! A stream is present on each selector of its filter. Presence is counted per
//! (selector, identity): the identity is the token's subject, or for a stream without one
//! its own client id, so one subject with two tabs is one member. A member joins with its
//! first stream; when its last stream goes it stays a member for the grace period and
//! leaves only if no stream of it came back meanwhile, so a reconnect announces nothing.
//!
//! [`Ledger`] is that rule for one process (the SQLite engine's single node); the cluster
//! engine keeps the same rule in Redis, in one script per batch, so that every node sees
//! one membership. Both answer with [`Announcement`]s, which the server publishes as
//! events on `$presence/<selector>` ([`Announcement::into_event`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use taskhub_core::{EventType, Selector, Timestamp};

use crate::NewEvent;

/// One stream's presence on one selector of its filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// The selector as the stream wrote it (`tasks/42`, `deploys/*`).
    pub selector: String,
    /// The token's subject; `None` for a stream without one.
    pub subject: Option<String>,
    /// The stream's `client_id` (its `connected` event says it).
    pub client_id: String,
    /// When the stream opened.
    pub since: Timestamp,
}

impl Presence {
    /// One presence per selector of a stream's filter that can have one: not a reserved
    /// (`$…`) selector, whose watchers are not present on what they watch, nor one whose
    /// `$presence/` topic would be too long to publish on.
    pub fn of_stream(
        selectors: &[Selector],
        subject: Option<&str>,
        client_id: &str,
        since: Timestamp,
    ) -> Vec<Self> {
        selectors
            .iter()
            .filter(|s| !s.names_reserved() && s.presence_topic().is_some())
            .map(|selector| Self {
                selector: selector.to_string(),
                subject: subject.map(str::to_owned),
                client_id: client_id.to_owned(),
                since,
            })
            .collect()
    }

    /// What membership is counted by: `s:<subject>`, or `c:<client id>` without one.
    pub fn identity(&self) -> String {
        identity(self.subject.as_deref(), &self.client_id)
    }
}

/// The identity of a stream with this subject and client id (see [`Presence::identity`]).
pub fn identity(subject: Option<&str>, client_id: &str) -> String {
    match subject {
        Some(subject) => format!("s:{subject}"),
        None => format!("c:{client_id}"),
    }
}

/// The subject an identity names, `None` for an anonymous stream's.
pub fn subject_of(identity: &str) -> Option<&str> {
    identity.strip_prefix("s:")
}

/// What happened to one stream's presence, as the server queues it for its engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Open(Presence),
    Close(Presence),
}

/// A member arriving or going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Join,
    Leave,
}

impl Change {
    /// The event type announcing it: `presence.join` or `presence.leave`.
    pub fn event_type(self) -> EventType {
        let name = match self {
            Self::Join => "presence.join",
            Self::Leave => "presence.leave",
        };
        EventType::parse(name).unwrap_or_else(|_| unreachable!("a valid event type"))
    }
}

/// A change to announce: who joined or left a selector, and how many members it has now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub change: Change,
    pub selector: String,
    pub subject: Option<String>,
    /// The stream that made the member join, or the last one of it to go.
    pub client_id: String,
    /// Members of the selector after the change.
    pub count: u64,
}

impl Announcement {
    /// The event publishing it: type `presence.join`/`presence.leave` on
    /// `$presence/<selector>`, data `{selector, subject, client_id, count}`. `None` for a
    /// selector that is not one (never, for an announcement made of a [`Presence`]).
    pub fn into_event(self) -> Option<NewEvent> {
        let selector = Selector::topic(&self.selector).ok()?;
        let topic = selector.presence_topic()?;
        let data = json!({
            "selector": self.selector,
            "subject": self.subject,
            "client_id": self.client_id,
            "count": self.count,
        });
        Some(NewEvent {
            event_type: self.change.event_type(),
            topic: Some(topic),
            private: false,
            data: serde_json::value::to_raw_value(&data).ok()?,
            mercure: None,
        })
    }
}

/// One selector's presence, as `GET /presence` answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub selector: String,
    /// Members: identities joined and not yet left (one in its grace period included).
    pub count: u64,
    /// The streams open on it now, across the cluster.
    pub clients: Vec<ListedClient>,
}

/// One open stream in a [`Listing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedClient {
    pub subject: Option<String>,
    pub client_id: String,
    pub since: Timestamp,
    /// The node serving it.
    pub node: String,
}

/// Presence in one process: members per selector, their open streams, and the leaves
/// due when grace periods end. Times are milliseconds on any monotonic clock the caller
/// keeps.
#[derive(Debug)]
pub struct Ledger {
    grace_ms: u64,
    node: String,
    selectors: HashMap<String, HashMap<String, Member>>,
    /// Members whose last stream went, by when they leave: (deadline, selector, identity).
    /// An entry whose member came back (or was re-armed) is skipped when it comes due.
    leaving: BTreeSet<(u64, String, String)>,
}

#[derive(Debug)]
struct Member {
    /// Open streams: client id → since.
    streams: BTreeMap<String, Timestamp>,
    /// The stream that last joined or went, for the announcement.
    last_client: String,
    /// Set while the member has no stream: when it leaves.
    leave_at: Option<u64>,
}

impl Ledger {
    /// An empty ledger whose members leave `grace_ms` after their last stream; `node`
    /// names this process in listings.
    pub fn new(grace_ms: u64, node: impl Into<String>) -> Self {
        Self {
            grace_ms,
            node: node.into(),
            selectors: HashMap::new(),
            leaving: BTreeSet::new(),
        }
    }

    /// A stream arrives on a selector: a join if its identity was not a member (nor in
    /// its grace period).
    pub fn open(&mut self, presence: &Presence) -> Option<Announcement> {
        let members = self.selectors.entry(presence.selector.clone()).or_default();
        let identity = presence.identity();
        let mut joined = false;
        let member = members.entry(identity).or_insert_with(|| {
            joined = true;
            Member {
                streams: BTreeMap::new(),
                last_client: presence.client_id.clone(),
                leave_at: None,
            }
        });
        member
            .streams
            .insert(presence.client_id.clone(), presence.since);
        member.leave_at = None;
        joined.then(|| Announcement {
            change: Change::Join,
            selector: presence.selector.clone(),
            subject: presence.subject.clone(),
            client_id: presence.client_id.clone(),
            count: members.len() as u64,
        })
    }

    /// A stream goes at `now_ms`: its member, left without streams, leaves at the end of
    /// the grace period unless one comes back.
    pub fn close(&mut self, presence: &Presence, now_ms: u64) {
        let identity = presence.identity();
        let Some(member) = self
            .selectors
            .get_mut(&presence.selector)
            .and_then(|members| members.get_mut(&identity))
        else {
            return;
        };
        if member.streams.remove(&presence.client_id).is_none() {
            return;
        }
        member.last_client.clone_from(&presence.client_id);
        if member.streams.is_empty() {
            let at = now_ms.saturating_add(self.grace_ms);
            member.leave_at = Some(at);
            self.leaving
                .insert((at, presence.selector.clone(), identity));
        }
    }

    /// The leaves whose grace period has ended by `now_ms`, each once.
    pub fn due(&mut self, now_ms: u64) -> Vec<Announcement> {
        let mut leaves = Vec::new();
        while let Some(first) = self.leaving.first() {
            if first.0 > now_ms {
                break;
            }
            let Some((at, selector, identity)) = self.leaving.pop_first() else {
                break;
            };
            let Some(members) = self.selectors.get_mut(&selector) else {
                continue;
            };
            if members.get(&identity).and_then(|m| m.leave_at) != Some(at) {
                continue;
            }
            if let Some(member) = members.remove(&identity) {
                leaves.push(leave(&selector, &identity, member, members.len()));
            }
            if members.is_empty() {
                self.selectors.remove(&selector);
            }
        }
        leaves
    }

    /// Every member leaves now (a single node shutting down: nobody is left to count).
    pub fn leave_all(&mut self) -> Vec<Announcement> {
        self.leaving.clear();
        let mut leaves = Vec::new();
        for (selector, mut members) in self.selectors.drain() {
            let identities: Vec<String> = members.keys().cloned().collect();
            for identity in identities {
                if let Some(member) = members.remove(&identity) {
                    leaves.push(leave(&selector, &identity, member, members.len()));
                }
            }
        }
        leaves
    }

    /// One selector's members and open streams.
    pub fn list(&self, selector: &str) -> Listing {
        let members = self.selectors.get(selector);
        let clients = members
            .into_iter()
            .flatten()
            .flat_map(|(identity, member)| {
                member
                    .streams
                    .iter()
                    .map(|(client_id, since)| ListedClient {
                        subject: subject_of(identity).map(str::to_owned),
                        client_id: client_id.clone(),
                        since: *since,
                        node: self.node.clone(),
                    })
            })
            .collect();
        Listing {
            selector: selector.to_owned(),
            count: members.map_or(0, |m| m.len() as u64),
            clients,
        }
    }
}

fn leave(selector: &str, identity: &str, member: Member, left: usize) -> Announcement {
    Announcement {
        change: Change::Leave,
        selector: selector.to_owned(),
        subject: subject_of(identity).map(str::to_owned),
        client_id: member.last_client,
        count: left as u64,
    }
}

#[cfg(test)]
mod tests {
    use taskhub_core::Topic;

    use super::*;

    const GRACE: u64 = 5_000;

    fn stream(selector: &str, subject: Option<&str>, client: &str) -> Presence {
        Presence {
            selector: selector.into(),
            subject: subject.map(Into::into),
            client_id: client.into(),
            since: Timestamp::now(),
        }
    }

    fn changes(announcements: &[Announcement]) -> Vec<(Change, Option<&str>, u64)> {
        announcements
            .iter()
            .map(|a| (a.change, a.subject.as_deref(), a.count))
            .collect()
    }

    #[test]
    fn two_tabs_are_one_join_and_the_leave_comes_a_grace_after_the_last() {
        let mut ledger = Ledger::new(GRACE, "n");
        let (tab1, tab2) = (
            stream("tasks/42", Some("alice"), "1"),
            stream("tasks/42", Some("alice"), "2"),
        );
        let joined = ledger.open(&tab1).expect("a join");
        assert_eq!((joined.count, joined.client_id.as_str()), (1, "1"));
        assert_eq!(ledger.open(&tab2), None);
        ledger.close(&tab1, 0);
        assert!(ledger.due(GRACE * 10).is_empty(), "a tab is still open");
        ledger.close(&tab2, 1_000);
        assert!(ledger.due(1_000 + GRACE - 1).is_empty());
        let left = ledger.due(1_000 + GRACE);
        assert_eq!(changes(&left), [(Change::Leave, Some("alice"), 0)]);
        assert_eq!(left[0].client_id, "2");
        assert!(ledger.due(u64::MAX).is_empty(), "announced once");
    }

    #[test]
    fn a_reconnect_within_the_grace_announces_nothing() {
        let mut ledger = Ledger::new(GRACE, "n");
        assert!(ledger.open(&stream("t", Some("bob"), "1")).is_some());
        ledger.close(&stream("t", Some("bob"), "1"), 0);
        assert_eq!(ledger.open(&stream("t", Some("bob"), "2")), None);
        assert!(ledger.due(GRACE * 2).is_empty());
        assert_eq!(ledger.list("t").count, 1);
        ledger.close(&stream("t", Some("bob"), "2"), GRACE * 3);
        assert_eq!(ledger.due(GRACE * 4).len(), 1);
    }

    #[test]
    fn anonymous_streams_are_members_each_and_counts_follow_members() {
        let mut ledger = Ledger::new(0, "n");
        let a = ledger.open(&stream("t", None, "1")).expect("join");
        let b = ledger.open(&stream("t", None, "2")).expect("join");
        assert_eq!((a.count, b.count), (1, 2));
        assert_eq!(b.subject, None);
        ledger.close(&stream("t", None, "1"), 0);
        assert_eq!(changes(&ledger.due(0)), [(Change::Leave, None, 1)]);
        let listing = ledger.list("t");
        assert_eq!(listing.count, 1);
        assert_eq!(listing.clients.len(), 1);
        assert_eq!(listing.clients[0].client_id, "2");
    }

    #[test]
    fn leave_all_empties_the_ledger() {
        let mut ledger = Ledger::new(GRACE, "n");
        ledger.open(&stream("a", Some("x"), "1"));
        ledger.open(&stream("b", Some("x"), "1"));
        ledger.close(&stream("b", Some("x"), "1"), 0);
        assert_eq!(ledger.leave_all().len(), 2);
        assert_eq!(ledger.list("a").count, 0);
        assert!(ledger.due(u64::MAX).is_empty());
    }

    #[test]
    fn reserved_and_too_long_selectors_have_no_presence() {
        let selectors: Vec<Selector> = ["tasks/42", "$presence/*", "deploys/*"]
            .into_iter()
            .map(|s| Selector::topic(s).expect("selector"))
            .chain([Selector::topic(&"t".repeat(250)).expect("selector")])
            .collect();
        let present = Presence::of_stream(&selectors, Some("a"), "1", Timestamp::now());
        let names: Vec<&str> = present.iter().map(|p| p.selector.as_str()).collect();
        assert_eq!(names, ["tasks/42", "deploys/*"]);
    }

    #[test]
    fn an_announcement_is_an_event_on_the_presence_topic() {
        let event = Announcement {
            change: Change::Join,
            selector: "deploys/*".into(),
            subject: Some("alice".into()),
            client_id: "c1".into(),
            count: 3,
        }
        .into_event()
        .expect("an event");
        assert_eq!(event.event_type.as_str(), "presence.join");
        assert_eq!(
            event.topic.as_ref().map(Topic::as_str),
            Some("$presence/deploys/*")
        );
        assert_eq!(
            event.data.get(),
            r#"{"selector":"deploys/*","subject":"alice","client_id":"c1","count":3}"#
        );
    }

    /// Any interleaving of opens, closes and sweeps: joins and leaves alternate per
    /// member, a member's count in the announcements matches the members listed, and
    /// after everything closed and the grace passed, every join has had its leave.
    #[test]
    fn joins_and_leaves_balance_under_any_churn() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let mut ledger = Ledger::new(100, "n");
            let mut open: Vec<Presence> = Vec::new();
            let mut present: HashMap<(String, String), bool> = HashMap::new();
            let mut now = 0;
            let mut client = 0;
            let mut check = |announcements: Vec<Announcement>| {
                for a in announcements {
                    let key = (
                        a.selector.clone(),
                        identity(a.subject.as_deref(), &a.client_id),
                    );
                    let was = present.insert(key.clone(), a.change == Change::Join);
                    assert_ne!(was, Some(a.change == Change::Join), "{a:?} twice");
                }
            };
            for _ in 0..60 {
                now += next(80);
                match next(3) {
                    0 => {
                        client += 1;
                        let subject = ["a", "b", "c"][next(3) as usize];
                        let selector = ["x", "y"][next(2) as usize];
                        let p = stream(selector, Some(subject), &client.to_string());
                        let joined = ledger.open(&p);
                        check(joined.into_iter().collect());
                        open.push(p);
                    }
                    1 if !open.is_empty() => {
                        let p = open.swap_remove(next(open.len() as u64) as usize);
                        ledger.close(&p, now);
                    }
                    _ => {
                        let due = ledger.due(now);
                        check(due);
                    }
                }
                for selector in ["x", "y"] {
                    let listed = ledger.list(selector);
                    let streams = open.iter().filter(|p| p.selector == selector).count();
                    assert_eq!(listed.clients.len(), streams);
                    let subjects: BTreeSet<_> = listed.clients.iter().map(|c| &c.subject).collect();
                    assert!(listed.count as usize >= subjects.len());
                }
            }
            for p in open.drain(..) {
                ledger.close(&p, now);
            }
            let due = ledger.due(now + 100);
            check(due);
            assert!(present.values().all(|joined| !joined), "every join left");
            assert_eq!(ledger.list("x").count + ledger.list("y").count, 0);
        }
    }
}
