//! The Knative Revisions behind an InferenceService: one per deploy of the model, the older
//! ones scaled to zero and kept (DESIGN §1). Lists them with their traffic, and prunes those
//! that serve none.

use serde::Serialize;
use serde_json::Value;

use super::objects::{self, ObjectError};
use super::runs::created_at;
use crate::identity::{self, KNATIVE_SERVICE_LABEL};
use crate::kinds;
use crate::kube::{Client, Transport};

/// A Revision and what it serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionInfo {
    pub name: String,
    /// Its share of the traffic, from the Knative Service's (or Route's) `status.traffic`.
    pub traffic_percent: u32,
    /// The newest Revision that became ready: what new traffic goes to.
    pub latest_ready: bool,
    pub ready: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// The Knative Service it belongs to.
    pub service: String,
    /// Whether pruning deletes it: it serves no traffic and is neither the latest ready
    /// Revision nor the latest created (a rollout still on its way). The panel's preview shows
    /// this, so that it lists exactly what [`prune_revisions`] deletes.
    pub prunable: bool,
}

/// The rows for a Knative Service's Revisions, newest first, from the Service and where its
/// traffic goes (`status.traffic` of the Service, or of its Route). Pure.
pub fn revision_rows(service: &str, knative: &Value, traffic: &[Value], revisions: &[Value]) -> Vec<RevisionInfo> {
    let latest_ready = knative["status"]["latestReadyRevisionName"].as_str();
    let latest_created = knative["status"]["latestCreatedRevisionName"].as_str();
    let mut rows: Vec<RevisionInfo> = revisions
        .iter()
        .map(|revision| {
            let name = revision["metadata"]["name"].as_str().unwrap_or_default().to_string();
            // A Revision can appear more than once (tags): its shares add up.
            let percent: u64 = traffic
                .iter()
                .filter(|t| t["revisionName"].as_str() == Some(&name))
                .filter_map(|t| t["percent"].as_u64())
                .sum();
            let ready = revision["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            let traffic_percent = percent.min(100) as u32;
            let latest_ready = latest_ready == Some(name.as_str());
            RevisionInfo {
                prunable: traffic_percent == 0 && !latest_ready && latest_created != Some(name.as_str()),
                traffic_percent,
                latest_ready,
                ready,
                created: created_at(revision),
                service: service.to_string(),
                name,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    rows
}

/// The Revisions of a kaptain InferenceService (empty when the serving operator has not made its
/// Knative Service yet).
async fn list<T: Transport>(client: &Client<T>, inference_service: &str, namespace: &str) -> Result<Vec<RevisionInfo>, ObjectError> {
    let (kind, _) = objects::find(client, "InferenceService", inference_service, namespace).await?;
    let kserve = kind == kinds::KSERVE_INFERENCE_SERVICE;
    for service in identity::predictor_service_names(inference_service, kserve) {
        let Some(knative) = client.get(&kinds::KNATIVE_SERVICE, namespace, &service).await? else { continue };
        let mut traffic = knative["status"]["traffic"].as_array().cloned();
        if traffic.is_none() {
            // Knative copies the Route's traffic into the Service's status; read the Route if not yet.
            let route = client.get(&kinds::KNATIVE_ROUTE, namespace, &service).await?;
            traffic = route.and_then(|r| r["status"]["traffic"].as_array().cloned());
        }
        let selector = format!("{KNATIVE_SERVICE_LABEL}={service}");
        let revisions = client.list(&kinds::KNATIVE_REVISION, namespace, &selector).await?;
        return Ok(revision_rows(&service, &knative, &traffic.unwrap_or_default(), &revisions.items));
    }
    Ok(Vec::new())
}

/// The Revisions behind a kaptain InferenceService, newest first.
pub async fn revisions<T: Transport>(client: &Client<T>, inference_service: &str, namespace: &str) -> Result<Vec<RevisionInfo>, ObjectError> {
    list(client, inference_service, namespace).await
}

/// What pruning deleted and kept, by Revision name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub kept: Vec<String>,
}

/// Deletes the Revisions of a kaptain InferenceService that may be pruned
/// ([`RevisionInfo::prunable`]), and waits until they are gone.
pub async fn prune_revisions<T: Transport>(client: &Client<T>, inference_service: &str, namespace: &str) -> Result<Pruned, ObjectError> {
    let mut pruned = Pruned::default();
    for row in list(client, inference_service, namespace).await? {
        if row.prunable {
            objects::remove(client, &kinds::KNATIVE_REVISION, namespace, &row.name).await?;
            pruned.deleted.push(row.name);
        } else {
            pruned.kept.push(row.name);
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision(name: &str, created: &str, ready: &str) -> Value {
        json!({"metadata": {"name": name, "creationTimestamp": created},
               "status": {"conditions": [{"type": "Ready", "status": ready}]}})
    }

    #[test]
    fn traffic_and_readiness_per_revision() {
        let service = json!({"status": {
            "latestReadyRevisionName": "m-predictor-default-00002",
            "latestCreatedRevisionName": "m-predictor-default-00003",
            "traffic": [
                {"revisionName": "m-predictor-default-00002", "latestRevision": true, "percent": 90},
                {"revisionName": "m-predictor-default-00001", "percent": 10},
                {"revisionName": "m-predictor-default-00001", "tag": "old"}
            ]}});
        let revisions = [
            revision("m-predictor-default-00001", "2026-01-01T00:00:00Z", "True"),
            revision("m-predictor-default-00003", "2026-01-01T00:02:00Z", "Unknown"),
            revision("m-predictor-default-00002", "2026-01-01T00:01:00Z", "True"),
            revision("m-predictor-default-00000", "2025-12-31T00:00:00Z", "True"),
        ];
        let traffic = service["status"]["traffic"].as_array().unwrap();
        let rows = revision_rows("m-predictor-default", &service, traffic, &revisions);
        let shown: Vec<(&str, u32, bool, bool)> = rows.iter().map(|r| (&r.name[20..], r.traffic_percent, r.latest_ready, r.ready)).collect();
        assert_eq!(shown, [("00003", 0, false, false), ("00002", 90, true, true), ("00001", 10, false, true), ("00000", 0, false, true)]);
        assert_eq!(rows[0].service, "m-predictor-default");
        assert_eq!(rows[1].created, 1_767_225_660);

        let pruned: Vec<&str> = rows.iter().filter(|r| r.prunable).map(|r| r.name.as_str()).collect();
        assert_eq!(pruned, ["m-predictor-default-00000"], "never the latest ready, the latest created, or one with traffic");
    }

    #[test]
    fn no_status_yet_means_no_traffic_and_nothing_ready() {
        let revision = json!({"metadata": {"name": "m-predictor-00001"}});
        let rows = revision_rows("m-predictor", &Value::Null, &[], std::slice::from_ref(&revision));
        assert_eq!(rows[0].traffic_percent, 0);
        assert!(!rows[0].latest_ready && !rows[0].ready);
        // A rollout on its way: created, not ready yet, no traffic yet: never pruned.
        let rolling_out = json!({"status": {"latestCreatedRevisionName": "m-predictor-00001"}});
        assert!(!revision_rows("m-predictor", &rolling_out, &[], &[revision])[0].prunable);
    }
}
