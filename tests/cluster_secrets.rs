//! What a Secret holds travels only where it is needed: a run reads its two source Secrets
//! (to copy them into the run's own, and to sign the upload with the S3 keys); nothing else it
//! asks the API for, listing runs, deleting by label, cleaning up, sweeping, carries a Secret's
//! data back. Against the local control plane (tests/cluster/up) as the namespace's user, with a
//! transport that records every answer.
//!
//! Ignored by a plain `cargo test`: scripts/test starts the cluster and runs it.

#[path = "support/cluster.rs"]
mod cluster;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cluster::{kubectl, namespace, objects_of_run, user_kubeconfig};
use kaptain::engine::runs::{self, SweepSelection, Whose};
use kaptain::engine::{self, Engine};
use kaptain::identity::RunId;
use kaptain::kube::{ByteStream, Client, KubeError, Response, Transport};
use kaptain::lifecycle::Outcome;
use kaptain::native::{NativeTransport, Target};
use kaptain::{ops, Options};

/// Each request (method and path) with the bytes of its answer.
type Answers = Rc<RefCell<Vec<(String, Vec<u8>)>>>;

/// The real transport, recording every answer.
struct Recording {
    inner: NativeTransport,
    answers: Answers,
}

impl Transport for Recording {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, KubeError> {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.inner.send(request).await?;
        self.answers.borrow_mut().push((what, response.body.clone()));
        Ok(response)
    }

    async fn stream(&self, request: http::Request<Vec<u8>>) -> Result<Result<ByteStream, Response>, KubeError> {
        use futures_util::StreamExt;
        let what = format!("{} {}", request.method(), request.uri());
        match self.inner.stream(request).await? {
            Err(response) => {
                self.answers.borrow_mut().push((what, response.body.clone()));
                Ok(Err(response))
            }
            // A watch: its chunks are recorded as they pass.
            Ok(body) => {
                let answers = Rc::clone(&self.answers);
                let index = {
                    let mut answers = answers.borrow_mut();
                    answers.push((what, Vec::new()));
                    answers.len() - 1
                };
                let recorded = body.inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        answers.borrow_mut()[index].1.extend_from_slice(bytes);
                    }
                });
                Ok(Ok(recorded.boxed_local()))
            }
        }
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await
    }

    fn now(&self) -> i64 {
        self.inner.now()
    }
}

/// The values the namespace's source Secrets hold, as the API sends them (base64).
fn seeded_values(ns: &str) -> Vec<String> {
    let mut values = Vec::new();
    for (secret, key) in [("kaptain-registry-credentials", "\\.dockerconfigjson"), ("kaptain-s3-credentials", "AWS_ACCESS_KEY_ID"), ("kaptain-s3-credentials", "AWS_SECRET_ACCESS_KEY")] {
        let value = kubectl(&["-n", ns, "get", "secret", secret, "-o", &format!("jsonpath={{.data.{key}}}")]);
        assert!(value.len() > 8, "{secret} {key}");
        values.push(value);
    }
    values
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the local control plane (scripts/test)"]
async fn only_the_source_secrets_are_read_in_full() {
    let ns = namespace("secrets");
    let (inner, _) = NativeTransport::connect(Target::Kubeconfig(&user_kubeconfig(&ns))).await.unwrap();
    let client = Client::new(Recording { inner, answers: Rc::new(RefCell::new(Vec::new())) });
    let cell = format!(
        "%%kaptain train --workers 1\nmodel:\n  id: secrets/model\n  framework: tensorflow\n  main_file: t.py\n  image_name: registry.example.com/secrets/model\n  base_image: base:1\n  labels:\n    kaptain-sim/delay-seconds: \"60\"\nconfig:\n  namespace: {ns}\n"
    );
    let options = Options { notebook_server: Some("/user/alice/".into()), ..Options::default() };

    // A run interrupted while its build runs: its Secrets are created, listed and deleted by label.
    let run_id = RunId::parse("s1").unwrap();
    let (parsed, identity, objects) = ops::prepare(&cell, &options, &run_id).unwrap();
    let mut ignore = |_| {};
    let report = Engine::new(&client, &parsed, &identity, &mut ignore)
        .run(objects, true, tokio::time::sleep(Duration::from_secs(4)))
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert_eq!(objects_of_run(&ns, "s1"), Vec::<String>::new());

    // A run left behind, listed and swept as the panel does, then cleaned up by run id.
    let run_id = RunId::parse("s2").unwrap();
    let (parsed, identity, objects) = ops::prepare(&cell, &options, &run_id).unwrap();
    Engine::new(&client, &parsed, &identity, &mut ignore).run(objects, false, std::future::pending()).await.unwrap();
    let ours = Whose::of(Some("/user/alice/"), false);
    let listed = runs::list_runs(&client, &ns, &ours).await.unwrap();
    assert_eq!(listed.len(), 1);
    let yaml = engine::objects::object_yaml(&client, "Secret", "secrets-model-s2-registry", &ns).await.unwrap();
    assert!(yaml.contains("secrets-model-s2-registry"));
    let selection = SweepSelection { whose: ours, older_than_seconds: None, run_ids: vec![run_id.clone()] };
    runs::sweep(&client, &ns, &selection, false, &mut |_, _| {}).await.unwrap();
    engine::cleanup(&client, &ns, &run_id, &mut ignore).await;
    assert_eq!(objects_of_run(&ns, "s2"), Vec::<String>::new());

    let needles = seeded_values(&ns);
    let answers = client.transport().answers.borrow();
    let source = |what: &str| what.starts_with("GET ") && (what.contains("/secrets/kaptain-registry-credentials") || what.contains("/secrets/kaptain-s3-credentials"));
    let mut read_in_full = Vec::new();
    for (what, body) in answers.iter() {
        let body = String::from_utf8_lossy(body);
        if needles.iter().any(|n| body.contains(n.as_str())) {
            assert!(source(what), "{what} answered with a Secret's data");
            read_in_full.push(what.clone());
        }
    }
    // The test saw the engine read the sources (else it proves nothing).
    assert!(read_in_full.iter().any(|w| w.contains("kaptain-s3-credentials")), "{read_in_full:?}");
    assert!(answers.iter().any(|(w, _)| w.starts_with("DELETE ") && w.contains("/secrets?")), "a delete by label was answered");
    assert!(answers.len() > 20, "{} answers", answers.len());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
