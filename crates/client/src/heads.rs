//! Following committed heads over a WebSocket that reconnects.

use std::collections::VecDeque;
use std::time::Duration;

use cairn_api_types::{BlockView, HeadEvent};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::{Client, ClientError};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Longest pause between reconnection attempts.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(5);

/// Committed heads from a height on, each once and in order.
///
/// Heads arrive over the node's WebSocket. When the socket drops (the node restarts, a proxy
/// cuts idle connections), [`Heads::next`] reconnects with a growing pause and reads the
/// blocks committed meanwhile from `GET /v1/blocks`, so no height is skipped. Where no
/// WebSocket can be had at all, it reads `GET /v1/blocks` every block interval instead.
pub struct Heads {
    client: Client,
    next_height: u64,
    socket: Option<Socket>,
    ready: VecDeque<HeadEvent>,
    pause: Duration,
}

impl Heads {
    pub(crate) fn new(client: Client, next_height: u64) -> Self {
        Self {
            client,
            next_height,
            socket: None,
            ready: VecDeque::new(),
            pause: Duration::from_millis(100),
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
            if self.socket.is_none() {
                self.socket = self.connect().await;
                // Whatever was committed while there was no socket comes from the block list.
                if self.catch_up().await? {
                    continue;
                }
                if self.socket.is_none() {
                    tokio::time::sleep(self.pause).await;
                    self.pause = (self.pause * 2).min(MAX_RECONNECT_PAUSE);
                    continue;
                }
            }
            let Some(socket) = self.socket.as_mut() else {
                continue;
            };
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let Ok(message) = serde_json::from_str::<serde_json::Value>(text.as_str())
                    else {
                        return Err(ClientError::Unexpected(text.to_string()));
                    };
                    if message["event"] != "head" {
                        continue;
                    }
                    let head: HeadEvent = serde_json::from_value(message["data"].clone())
                        .map_err(|e| ClientError::Unexpected(e.to_string()))?;
                    let height = head.header.height;
                    if height == self.next_height {
                        self.ready.push_back(head);
                    } else if height > self.next_height {
                        // A gap (this follower fell behind the node's buffer): fill it.
                        self.catch_up().await?;
                    }
                    // Lower heights were already delivered.
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    self.socket = None;
                }
            }
        }
    }

    async fn connect(&mut self) -> Option<Socket> {
        let url = self.client.websocket_url()?;
        let connect = tokio_tungstenite::connect_async(url);
        let (mut socket, _) =
            match tokio::time::timeout(self.client.config.connect_timeout, connect).await {
                Ok(Ok(connected)) => connected,
                _ => return None,
            };
        let request = serde_json::json!({"id": 1, "subscribe": "heads"});
        socket.send(Message::text(request.to_string())).await.ok()?;
        self.pause = Duration::from_millis(100);
        Some(socket)
    }

    /// Reads committed blocks from `next_height` on into the ready queue; whether any came.
    async fn catch_up(&mut self) -> Result<bool, ClientError> {
        let page = match self.client.blocks(self.next_height, 100, false).await {
            Ok(page) => page,
            Err(error @ ClientError::Unexpected(_)) => return Err(error),
            // The node is away; the reconnect loop tries again.
            Err(_) => return Ok(false),
        };
        let mut expected = self.next_height + self.ready.len() as u64;
        for block in page.blocks {
            if block.header.height == expected {
                self.ready.push_back(head_of(block));
                expected += 1;
            }
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
