//! The kaniko pod's log, streamed into the run's events while the build Job runs: the API's
//! pods/log with `follow=true`, or, where a proxy on the way does not stream it, the whole log
//! polled and its new lines passed on.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;

use super::{EngineError, Event};
use crate::kinds;
use crate::kube::Transport;
use crate::lifecycle::Outcome;
use crate::manifest::Manifest;

/// The kaniko container's name in the build Job (manifest/build.rs).
const CONTAINER: &str = "kaniko";
/// The label the Job controller puts on its pods.
const JOB_NAME_LABEL: &str = "job-name";
/// How long the log may go on once the Job has ended (its last lines are still on the way).
const DRAIN: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_secs(2);

impl<T: Transport> super::Engine<'_, T> {
    /// Follows the build Job to its outcome while its pod's log streams into the events.
    pub(super) async fn follow_build(&self, job: &Manifest) -> Result<(Outcome, String), EngineError> {
        let done = pin!(self.follow(job));
        let log = pin!(self.stream_log(&job.name));
        match select(done, log).await {
            Either::Left((outcome, log)) => {
                let _ = select(log, pin!(self.client.transport().sleep(DRAIN))).await;
                outcome
            }
            Either::Right(((), done)) => done.await,
        }
    }

    /// Emits each line of the log of the Job's pod, once, from its start to its end.
    async fn stream_log(&self, job: &str) {
        let transport = self.client.transport();
        let pod = self.started_pod(job).await;
        let mut emitted = 0usize;
        loop {
            match self.client.follow_logs(self.namespace(), &pod, CONTAINER).await {
                Ok(Ok(mut chunks)) => {
                    let mut lines = LineSplitter::default();
                    let mut seen = 0usize;
                    while let Some(Ok(chunk)) = chunks.next().await {
                        for line in lines.push(&chunk) {
                            seen += 1;
                            if seen > emitted {
                                emitted = seen;
                                self.emit(Event::Log { pod: pod.clone(), line });
                            }
                        }
                    }
                    if let Some(line) = lines.rest() {
                        self.emit(Event::Log { pod: pod.clone(), line });
                    }
                    // The container ended (or the connection did): the Job's end says which.
                    return;
                }
                // Not streamed on the way (or not yet readable): poll.
                _ => {
                    if let Ok(text) = self.client.logs(self.namespace(), &pod, CONTAINER, 10_000).await {
                        for line in text.lines().skip(emitted) {
                            self.emit(Event::Log { pod: pod.clone(), line: line.to_string() });
                            emitted += 1;
                        }
                    }
                    transport.sleep(POLL).await;
                }
            }
        }
    }

    /// The name of the Job's pod once it has started (its log can be read from then on).
    async fn started_pod(&self, job: &str) -> String {
        let selector = format!("{JOB_NAME_LABEL}={job}");
        loop {
            if let Ok(list) = self.client.list(&kinds::POD, self.namespace(), &selector).await {
                let started = list.items.iter().find(|p| matches!(p["status"]["phase"].as_str(), Some("Running" | "Succeeded" | "Failed")));
                if let Some(name) = started.and_then(|p| p["metadata"]["name"].as_str()) {
                    return name.to_string();
                }
            }
            self.client.transport().sleep(POLL / 2).await;
        }
    }
}

/// Cuts a byte stream into lines; a line split across chunks is joined.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else { return Vec::new() };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&complete[..end]).split('\n').map(|l| l.trim_end_matches('\r').to_string()).collect()
    }

    /// What is left after the last newline, if anything.
    fn rest(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::LineSplitter;

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let mut lines = LineSplitter::default();
        assert_eq!(lines.push(b"INFO[0000] Down"), Vec::<String>::new());
        assert_eq!(lines.push(b"loading\nINFO[0001] Extr"), vec!["INFO[0000] Downloading"]);
        assert_eq!(lines.push(b"acting\r\n\nlast"), vec!["INFO[0001] Extracting", ""]);
        assert_eq!(lines.rest().as_deref(), Some("last"));
        assert_eq!(lines.rest(), None);
    }
}
