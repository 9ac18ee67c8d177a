//! The node's recent log lines, kept in memory for the admin pages and `cairn shell` (the log
//! itself goes to stderr as before).

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use cairn_rpc::admin::LogBuffer;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// This process's recent log lines.
pub static RECENT: LazyLock<Arc<LogBuffer>> = LazyLock::new(Arc::default);

/// A tracing layer that copies each event into [`RECENT`].
pub struct Capture;

/// Writes an event's message, then its fields as `name=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        line.message.push_str(&line.fields);
        let metadata = event.metadata();
        RECENT.push(
            cairn_primitives::clock::now_ms(),
            metadata.level().as_str(),
            metadata.target(),
            &line.message,
        );
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn events_are_kept_with_their_level_target_and_fields() {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(height = 7, peer = "0xab", "block refused");
        });
        let found = RECENT.search(Some("block refused"), None, None, 10);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, "WARN");
        assert_eq!(found[0].target, module_path!());
        assert_eq!(found[0].text, "block refused height=7 peer=0xab");
    }
}
