//! `history`: read the log's pages (`GET /events`), write each envelope as one line, and
//! with `follow` go on live from where the pages ended, without a gap or a repeat.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{DEFAULT_BASE_URL, USER_AGENT, endpoint};
use crate::error::{ClientError, refusal};
use crate::listen::{ListenOptions, listen};

/// How long one page may take to arrive.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Events asked for per page: the server's maximum.
const PAGE_SIZE: usize = 1000;

/// Which events to read, and whether to follow the live tail afterwards.
#[derive(Clone)]
pub struct HistoryOptions {
    /// The server's base URL, with or without a trailing `/`.
    pub base_url: String,
    /// `types=`: a comma list of event types, an item ending in `*` is a prefix.
    pub types: Option<String>,
    /// `topics=`: a comma list of topics, same `*` rule.
    pub topics: Option<String>,
    /// Only events committed at or after this RFC 3339 time (the server checks it).
    pub since: Option<String>,
    /// Only events after this id.
    pub after: Option<String>,
    /// Newest first (not with `follow`).
    pub newest_first: bool,
    /// Stop after this many events (not with `follow`).
    pub limit: Option<usize>,
    /// After the last page, go on with live events until cancelled.
    pub follow: bool,
    /// Sent as `Authorization: Bearer <token>`, never in the URL.
    pub token: Option<String>,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            types: None,
            topics: None,
            since: None,
            after: None,
            newest_first: false,
            limit: None,
            follow: false,
            token: None,
        }
    }
}

impl fmt::Debug for HistoryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryOptions")
            .field("base_url", &self.base_url)
            .field("types", &self.types)
            .field("topics", &self.topics)
            .field("since", &self.since)
            .field("after", &self.after)
            .field("newest_first", &self.newest_first)
            .field("limit", &self.limit)
            .field("follow", &self.follow)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A page as `GET /events` answers it; the envelopes are written out as they came.
#[derive(Deserialize)]
struct Page {
    events: Vec<Box<RawValue>>,
    next: Option<String>,
}

/// The part of an envelope `follow` needs.
#[derive(Deserialize)]
struct Envelope {
    id: String,
}

/// Writes the selected events to `out`, one envelope per line, oldest first (or newest
/// first); with `follow`, then follows the stream from the newest event the pages could
/// have held until `cancel` is cancelled. A refusal (bad filters, credentials) ends it
/// with the server's problem.
pub async fn history<W: Write>(
    options: &HistoryOptions,
    out: &mut W,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    if options.follow && (options.newest_first || options.limit.is_some()) {
        return Err(ClientError::InvalidOptions(
            "follow goes on from the newest event: not with newest first or a limit".into(),
        ));
    }
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(PAGE_TIMEOUT)
        .build()?;
    let reader = Reader {
        http,
        base_url: &options.base_url,
        token: options.token.as_deref(),
    };
    // With `follow`, the pages end at the newest event now, and the stream resumes
    // after it: every later event comes once, from the stream.
    let newest = if options.follow {
        Some(reader.newest_id().await?)
    } else {
        None
    };
    let mut url = endpoint(&options.base_url, "events")?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in [
            ("types", options.types.as_deref()),
            ("topics", options.topics.as_deref()),
            ("since", options.since.as_deref()),
            ("after", options.after.as_deref()),
            ("order", options.newest_first.then_some("desc")),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(newest) = &newest {
            query.append_pair("before", &(newest + 1).to_string());
        }
        query.append_pair("limit", &PAGE_SIZE.to_string());
    }
    let mut left = options.limit.unwrap_or(usize::MAX);
    let mut next = Some(url);
    while let Some(url) = next.take() {
        if left == 0 || cancel.is_cancelled() {
            return Ok(());
        }
        let page = reader.page(url).await?;
        for envelope in page.events.iter().take(left) {
            writeln!(out, "{}", envelope.get())?;
        }
        out.flush()?;
        left = left.saturating_sub(page.events.len());
        next = page.next.map(|next| reader.resolve(&next)).transpose()?;
    }
    if let Some(newest) = newest {
        let live = ListenOptions {
            base_url: options.base_url.clone(),
            types: options.types.clone(),
            topics: options.topics.clone(),
            token: options.token.clone(),
            last_event_id: Some(newest.to_string()),
        };
        listen(&live, out, cancel).await?;
    }
    Ok(())
}

/// Reads pages from one server.
struct Reader<'a> {
    http: reqwest::Client,
    base_url: &'a str,
    token: Option<&'a str>,
}

impl Reader<'_> {
    async fn page(&self, url: Url) -> Result<Page, ClientError> {
        let mut request = self.http.get(url);
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let body = response.bytes().await?;
        serde_json::from_slice(&body).map_err(ClientError::InvalidResponse)
    }

    /// The id of the newest event the caller may see, `0` when there is none.
    async fn newest_id(&self) -> Result<u64, ClientError> {
        let mut url = endpoint(self.base_url, "events")?;
        url.query_pairs_mut()
            .append_pair("order", "desc")
            .append_pair("limit", "1");
        let page = self.page(url).await?;
        let Some(newest) = page.events.first() else {
            return Ok(0);
        };
        let envelope: Envelope =
            serde_json::from_str(newest.get()).map_err(ClientError::InvalidResponse)?;
        envelope
            .id
            .parse()
            .map_err(|_| ClientError::UnexpectedAnswer(format!("event id {:?}", envelope.id)))
    }

    /// The server's `next` link (a path and query) against the base URL, keeping a base
    /// path prefix (`http://host/taskhub/`).
    fn resolve(&self, next: &str) -> Result<Url, ClientError> {
        let (path, query) = next.split_once('?').unwrap_or((next, ""));
        let mut url = endpoint(self.base_url, path.trim_start_matches('/'))?;
        url.set_query(Some(query));
        Ok(url)
    }
}
