//! Reading an object's status: where it stands and whether it reached an outcome. Pure.

use serde_json::Value;

use crate::kinds::{Follow, KindInfo};
use crate::lifecycle::Outcome;

/// Where an object stands, for display and for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Short state: Pending, Running, Succeeded, Failed, Ready...
    pub state: String,
    pub message: String,
    pub outcome: Option<Outcome>,
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

fn is_true(object: &Value, kind: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == "True")
}

fn message(c: Option<&Value>) -> String {
    c.and_then(|c| c["message"].as_str().or(c["reason"].as_str())).unwrap_or_default().to_string()
}

/// The latest condition that holds, as the state name.
fn latest_true(object: &Value) -> Option<&Value> {
    object["status"]["conditions"].as_array()?.iter().rev().find(|c| c["status"] == "True")
}

/// The progress of any object kaptain follows, by kind.
pub fn progress(kind: KindInfo, object: &Value) -> Progress {
    let done = |outcome: Outcome, kind_of_condition: &str| Progress {
        state: kind_of_condition.to_string(),
        message: message(condition(object, kind_of_condition)),
        outcome: Some(outcome),
    };
    match kind.follow {
        Follow::Job => {
            if is_true(object, "Complete") {
                return done(Outcome::Succeeded, "Complete");
            }
            if is_true(object, "Failed") {
                return done(Outcome::Failed, "Failed");
            }
            // Pending only until a pod starts: once one ran, the Job is Running until its
            // Complete / Failed condition, which the Job controller sets a moment after the
            // last pod ends (active is back to 0 in between).
            let status = &object["status"];
            let started = ["active", "succeeded", "failed"].iter().any(|n| status[*n].as_u64().unwrap_or(0) > 0);
            let state = if started { "Running" } else { "Pending" };
            Progress { state: state.into(), message: String::new(), outcome: None }
        }
        Follow::Conditions => {
            if is_true(object, "Succeeded") {
                return done(Outcome::Succeeded, "Succeeded");
            }
            if is_true(object, "Failed") {
                return done(Outcome::Failed, "Failed");
            }
            let latest = latest_true(object);
            let state = latest.and_then(|c| c["type"].as_str()).unwrap_or("Pending").to_string();
            Progress { state, message: message(latest), outcome: None }
        }
        Follow::Serving if is_stale(object) => Progress {
            state: "Pending".into(),
            message: "the serving operator has not taken up this version yet".into(),
            outcome: None,
        },
        Follow::Serving => {
            let ready = condition(object, "Ready");
            match ready.map(|c| (c["status"].as_str(), c["reason"].as_str().unwrap_or_default())) {
                Some((Some("True"), _)) => done(Outcome::Succeeded, "Ready"),
                Some((Some("False"), reason)) if is_failure_reason(reason) => Progress {
                    state: "Failed".into(),
                    message: message(ready),
                    outcome: Some(Outcome::Failed),
                },
                _ => Progress { state: "Pending".into(), message: message(ready), outcome: None },
            }
        }
        Follow::Not => Progress { state: "Created".into(), message: String::new(), outcome: None },
    }
}

/// A status written for an older version of the object's spec (a replaced InferenceService is
/// Ready with the version it had until its operator sees the new one).
fn is_stale(object: &Value) -> bool {
    let observed = object["status"]["observedGeneration"].as_i64();
    let generation = object["metadata"]["generation"].as_i64();
    matches!((observed, generation), (Some(observed), Some(generation)) if observed < generation)
}

/// When an object that reached its outcome did (seconds since the epoch): its
/// `status.completionTime`, else when its latest condition that holds became true.
pub fn finished_at(object: &Value) -> Option<i64> {
    let completion = object["status"]["completionTime"].as_str().and_then(super::runs::unix_seconds);
    completion.or_else(|| latest_true(object)?["lastTransitionTime"].as_str().and_then(super::runs::unix_seconds))
}

/// KFServing / KServe mark a predictor that cannot come up with reasons like
/// `RevisionFailed`, `BlockedByFailedLoad`, `InvalidSpec`.
fn is_failure_reason(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("fail") || reason.contains("invalid") || reason.contains("error")
}

/// A pod that cannot go on by itself (a stuck run says why): what stops it, the cluster's own
/// words and the fix. None while it runs, waits its turn or has ended.
#[cfg(feature = "build-step")]
pub fn stuck_pod(pod: &Value) -> Option<(String, String)> {
    let scheduled = condition(pod, "PodScheduled");
    if scheduled.is_some_and(|c| c["reason"] == "Unschedulable") {
        return Some(("Unschedulable".into(), format!("{}; fix: ask for no more than a node of the cluster has", message(scheduled))));
    }
    for container in pod["status"]["containerStatuses"].as_array()? {
        let waiting = &container["state"]["waiting"];
        let reason = waiting["reason"].as_str().unwrap_or_default();
        let fix = match reason {
            // ErrImagePull turns into ImagePullBackOff within seconds.
            "ImagePullBackOff" | "InvalidImageName" => "check the image's name and that the namespace may pull it",
            "CrashLoopBackOff" if container["lastState"]["terminated"]["reason"] == "OOMKilled" => "OOMKilled: ask for more memory",
            "CrashLoopBackOff" => "its log says why it exits",
            _ => continue,
        };
        let said = waiting["message"].as_str().unwrap_or(reason);
        let name = container["name"].as_str().unwrap_or_default();
        return Some((reason.into(), format!("container {name}: {said}; fix: {fix}")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;
    use serde_json::json;

    #[test]
    fn job_conditions() {
        let complete = json!({"status": {"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
        assert_eq!(progress(kinds::JOB, &complete).outcome, Some(Outcome::Succeeded));
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(progress(kinds::JOB, &failed).outcome, Some(Outcome::Failed));
        assert_eq!(progress(kinds::JOB, &json!({"status": {"active": 1}})).state, "Running");
        assert_eq!(progress(kinds::JOB, &json!({"status": {}})).state, "Pending");
        // The pod ended, the Complete condition is not there yet: still Running, not Pending.
        let ending = json!({"status": {"active": 0, "succeeded": 1, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}});
        assert_eq!(progress(kinds::JOB, &ending), Progress { state: "Running".into(), message: String::new(), outcome: None });
    }

    #[test]
    fn training_and_experiment_conditions() {
        let running = json!({"status": {"conditions": [{"type": "Created", "status": "True"}, {"type": "Running", "status": "True"}]}});
        assert_eq!(progress(kinds::TFJOB, &running), Progress { state: "Running".into(), message: String::new(), outcome: None });
        let ok = json!({"status": {"conditions": [{"type": "Running", "status": "False"}, {"type": "Succeeded", "status": "True"}]}});
        assert_eq!(progress(kinds::EXPERIMENT, &ok).outcome, Some(Outcome::Succeeded));
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "chief failed"}]}});
        assert_eq!(progress(kinds::PYTORCHJOB, &failed).message, "chief failed");
    }

    #[test]
    fn when_an_object_finished() {
        let job = json!({"status": {"completionTime": "2026-11-28T19:09:12Z", "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-28T19:09:13Z"}]}});
        assert_eq!(finished_at(&job), Some(1_795_892_952));
        let failed = json!({"status": {"conditions": [{"type": "Running", "status": "False"}, {"type": "Failed", "status": "True", "lastTransitionTime": "2026-11-28T19:09:13Z"}]}});
        assert_eq!(finished_at(&failed), Some(1_795_892_953));
        assert_eq!(finished_at(&json!({"status": {}})), None);
        assert!(kinds::TFJOB.works_towards_an_outcome() && !kinds::SECRET.works_towards_an_outcome() && !kinds::KSERVE_INFERENCE_SERVICE.works_towards_an_outcome());
    }

    #[test]
    fn inference_service_ready() {
        let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(progress(kinds::KSERVE_INFERENCE_SERVICE, &ready).outcome, Some(Outcome::Succeeded));
        let waiting = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "PredictorConfigurationReady not ready"}]}});
        assert_eq!(progress(kinds::KSERVE_INFERENCE_SERVICE, &waiting).outcome, None);
        let failed = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "RevisionFailed"}]}});
        assert_eq!(progress(kinds::KSERVE_INFERENCE_SERVICE, &failed).outcome, Some(Outcome::Failed));
        // Replaced: still Ready with the version before, which its operator has not seen yet.
        let replaced = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(progress(kinds::KSERVE_INFERENCE_SERVICE, &replaced).outcome, None);
        let seen = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(progress(kinds::KSERVE_INFERENCE_SERVICE, &seen).outcome, Some(Outcome::Succeeded));
    }

    #[test]
    #[cfg(feature = "build-step")]
    fn a_pod_that_cannot_go_on_says_why_and_one_that_waits_its_turn_does_not() {
        let unschedulable = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]}});
        let (reason, said) = stuck_pod(&unschedulable).unwrap();
        assert_eq!(reason, "Unschedulable");
        assert!(said.starts_with("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.; fix: ask for no more than a node"), "{said}");
        let pulling = json!({"status": {"containerStatuses": [{"name": "tensorflow",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"registry.example.com/nope:1\""}}}]}});
        let (reason, said) = stuck_pod(&pulling).unwrap();
        assert_eq!(reason, "ImagePullBackOff");
        assert!(said.starts_with("container tensorflow: Back-off pulling image \"registry.example.com/nope:1\"; fix: check the image's name"), "{said}");
        let oom = json!({"status": {"containerStatuses": [{"name": "pytorch", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}});
        let (reason, said) = stuck_pod(&oom).unwrap();
        assert_eq!(reason, "CrashLoopBackOff");
        assert!(said.ends_with("OOMKilled: ask for more memory"), "{said}");
        // Waiting its turn: created, being scheduled, pulling, running.
        for fine in [
            json!({}),
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}),
            json!({"status": {"containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}}),
            json!({"status": {"containerStatuses": [{"state": {"running": {}}}]}}),
        ] {
            assert_eq!(stuck_pod(&fine), None, "{fine}");
        }
    }
}
