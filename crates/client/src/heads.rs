//! Following committed heads over a WebSocket that reconnects.

use std::collections::VecDeque;
use std::time::Duration;

use cairn_api_types::{BlockView, HeadEvent};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::{Client, ClientError, Socket};

/// Longest pause between reconnection attempts.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(5);
/// First pause before reconnecting.
const FIRST_RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// A socket quiet for this long is asked nothing more: the block list is read, and the socket
/// replaced (a half-open connection never says it is gone).
const QUIET_LIMIT: Duration = Duration::from_secs(30);

/// Committed heads from a height on, each once and in order.
///
/// Heads arrive over the node's WebSocket. Each head announced tells how far the chain is;
/// whatever lies between the last head delivered and that one is read from `GET /v1/blocks`,
/// so a head is never skipped: not when this follower reads slower than the node commits, and
/// not when the socket drops (the node restarts, a proxy cuts the connection). Then
/// [`Heads::next`] reconnects, pausing 0.1 s and twice as long each time up to 5 s until a
/// head arrives again; a socket quiet for 30 s is replaced. Where no WebSocket can be had at
/// all, the block list is read at that same growing pace.
pub struct Heads {
    client: Client,
    next_height: u64,
    /// Highest height the node is known to have committed.
    known_tip: u64,
    socket: Option<Socket>,
    ready: VecDeque<HeadEvent>,
    pause: Duration,
}

impl Heads {
    pub(crate) fn new(client: Client, next_height: u64) -> Self {
        Self {
            client,
            next_height,
            known_tip: 0,
            socket: None,
            ready: VecDeque::new(),
            pause: FIRST_RECONNECT_PAUSE,
        }
    }

    /// The height the next head will have.
    pub fn next_height(&self) -> u64 {
        self.next_height
    }

    /// The next committed head. Waits for it; reconnects as often as needed. An error only
    /// for a reply that is not the API's (a node that is reachable but not Cairn).
    pub async fn next(&mut self) -> Result<HeadEvent, ClientError> {
        loop {
            if let Some(head) = self.ready.pop_front() {
                self.next_height = head.header.height + 1;
                return Ok(head);
            }
            // Behind what the node is known to hold: read the list.
            if self.next_height <= self.known_tip && self.catch_up().await? {
                continue;
            }
            let Some(socket) = self.socket.as_mut() else {
                self.socket = self
                    .client
                    .subscribe(serde_json::json!({"id": 1, "subscribe": "heads"}))
                    .await;
                // Whatever was committed while there was no socket comes from the list.
                if self.catch_up().await? {
                    continue;
                }
                if self.socket.is_none() {
                    self.wait_before_retrying().await;
                }
                continue;
            };
            match tokio::time::timeout(QUIET_LIMIT, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let Ok(message) = serde_json::from_str::<serde_json::Value>(text.as_str())
                    else {
                        return Err(ClientError::Unexpected(text.to_string()));
                    };
                    if message["event"] != "head" {
                        continue;
                    }
                    let head: HeadEvent = serde_json::from_value(message["data"].clone())
                        .map_err(|e| ClientError::Unexpected(e.to_string()))?;
                    self.pause = FIRST_RECONNECT_PAUSE;
                    let height = head.header.height;
                    self.known_tip = self.known_tip.max(height);
                    if height == self.next_height {
                        self.ready.push_back(head);
                    }
                    // Lower heights were delivered already; higher ones leave a gap that the
                    // list fills (the known tip says how far).
                }
                Ok(Some(Ok(_))) => {}
                // Dropped, broken, or quiet too long: read the list, then connect again.
                Ok(Some(Err(_)) | None) | Err(_) => {
                    self.socket = None;
                    if !self.catch_up().await? {
                        self.wait_before_retrying().await;
                    }
                }
            }
        }
    }

    async fn wait_before_retrying(&mut self) {
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(MAX_RECONNECT_PAUSE);
    }

    /// Reads a page of committed blocks from `next_height` on into the ready queue; whether
    /// any came.
    async fn catch_up(&mut self) -> Result<bool, ClientError> {
        let page = match self.client.blocks(self.next_height, 100, false).await {
            Ok(page) => page,
            Err(error @ ClientError::Unexpected(_)) => return Err(error),
            // The node is away; the reconnect loop tries again.
            Err(_) => return Ok(false),
        };
        let mut expected = self.next_height;
        for block in page.blocks {
            if block.header.height != expected {
                break;
            }
            self.known_tip = self.known_tip.max(expected);
            self.ready.push_back(head_of(block));
            expected += 1;
        }
        if page.next.is_some() {
            // More after this page: the node holds at least that much.
            self.known_tip = self.known_tip.max(expected);
        }
        Ok(!self.ready.is_empty())
    }
}

fn head_of(block: BlockView) -> HeadEvent {
    HeadEvent {
        header: block.header,
        transaction_count: block.transaction_count,
    }
}
