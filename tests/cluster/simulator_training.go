package main

// TEST DOUBLE part 1 (see simulator.go): the Kubeflow training operator
// (TFJob, PyTorchJob, kubeflow.org/v1) and Katib (Experiment,
// kubeflow.org/v1beta1). Only statuses move; no pods, services or trials are
// created. Condition types, reasons and messages follow the upstream
// controllers (training-operator pkg/util/status.go and the TFJob/PyTorchJob
// reconcilers; Katib's experiment status_util.go and util.go).

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type trainingKind struct {
	gvr          schema.GroupVersionResource
	kind         string
	replicaSpecs string   // spec field holding the replica specs
	order        []string // replica types in the order the operator looks at them
}

var trainingKinds = []trainingKind{
	{schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "tfjobs"}, "TFJob", "tfReplicaSpecs",
		[]string{"Chief", "Eval", "Master", "PS", "Worker"}},
	{schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "pytorchjobs"}, "PyTorchJob", "pytorchReplicaSpecs",
		[]string{"Master", "Worker"}},
}

var experimentGVR = schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1beta1", Resource: "experiments"}

func (s *simulator) trainingJobs(ctx context.Context) {
	for _, k := range trainingKinds {
		if !s.isServed(k.gvr) {
			continue
		}
		items := s.list(ctx, k.gvr, "")
		for i := range items {
			s.trainingJob(ctx, k, &items[i])
		}
	}
}

// trainingJob: conditions Created and Running (with replicaStatuses.active)
// at once, then after the delay Succeeded (all replicas succeeded) or Failed
// (one replica of the first replica type failed), Running turning False as
// the operator's filterOutCondition does. Finished jobs are never touched again.
func (s *simulator) trainingJob(ctx context.Context, k trainingKind, u *unstructured.Unstructured) {
	if u.GetDeletionTimestamp() != nil {
		return
	}
	st := copyMap(u.Object["status"])
	if condTrue(st, "Succeeded") || condTrue(st, "Failed") {
		return
	}
	p := s.planFor(ref(u), string(u.GetUID()), u.GetLabels())
	name, ns := u.GetName(), u.GetNamespace()

	// Replica types and counts, in the operator's order (unknown types last).
	specs, _, _ := unstructured.NestedMap(u.Object, "spec", k.replicaSpecs)
	counts := map[string]int64{}
	var types []string
	for t, v := range specs {
		n, found, _ := unstructured.NestedInt64(asMap(v), "replicas")
		if !found {
			n = 1
		}
		counts[t] = n
		types = append(types, t)
	}
	rank := func(t string) int {
		for i, o := range k.order {
			if o == t {
				return i
			}
		}
		return len(k.order)
	}
	sort.Slice(types, func(i, j int) bool {
		if rank(types[i]) != rank(types[j]) {
			return rank(types[i]) < rank(types[j])
		}
		return types[i] < types[j]
	})
	replicaStatus := func(t, field string, n int64) map[string]any {
		rs := map[string]any{"selector": fmt.Sprintf(
			"training.kubeflow.org/job-name=%s,training.kubeflow.org/operator-name=%s-controller,training.kubeflow.org/replica-type=%s",
			name, strings.ToLower(k.kind), strings.ToLower(t))}
		if field != "" && n > 0 {
			rs[field] = n
		}
		return rs
	}

	var did []string
	if getCond(st, "Created") == nil {
		setCond(st, "Created", "True", k.kind+"Created", fmt.Sprintf("%s %s is created.", k.kind, name), true, false)
		did = append(did, "Created")
	}
	if st["startTime"] == nil {
		st["startTime"] = now()
	}
	runningMsg := fmt.Sprintf("%s %s/%s is running.", k.kind, ns, name)
	if getCond(st, "Running") == nil {
		setCond(st, "Running", "True", k.kind+"Running", runningMsg, true, false)
		rs := map[string]any{}
		for _, t := range types {
			rs[t] = replicaStatus(t, "active", counts[t])
		}
		st["replicaStatuses"] = rs
		did = append(did, "Running")
	}
	if due(u, p) {
		rs := map[string]any{}
		var typ, reason, msg string
		if p.fail {
			failed := "Worker"
			if len(types) > 0 {
				failed = types[0]
			}
			for _, t := range types {
				rs[t] = replicaStatus(t, "", 0)
			}
			rs[failed] = replicaStatus(failed, "failed", 1)
			typ, reason = "Failed", k.kind+"Failed"
			msg = fmt.Sprintf("%s %s/%s has failed because 1 %s replica(s) failed.", k.kind, ns, name, failed)
		} else {
			for _, t := range types {
				rs[t] = replicaStatus(t, "succeeded", counts[t])
			}
			typ, reason = "Succeeded", k.kind+"Succeeded"
			msg = fmt.Sprintf("%s %s/%s successfully completed.", k.kind, ns, name)
		}
		st["replicaStatuses"] = rs
		st["completionTime"] = now()
		setCond(st, "Running", "False", k.kind+"Running", runningMsg, true, false)
		setCond(st, typ, "True", reason, msg, true, false)
		did = append(did, fmt.Sprintf("%s (label %s=%s, after %s)", typ, simOutcomeLabel, p.outcome(), p.delay))
	}
	s.writeStatus(ctx, k.gvr, u, st, strings.Join(did, ", "))
}

func (s *simulator) experiments(ctx context.Context) {
	if !s.isServed(experimentGVR) {
		return
	}
	items := s.list(ctx, experimentGVR, "")
	for i := range items {
		s.experiment(ctx, &items[i])
	}
}

// experiment: conditions Created and Running at once (trials running:
// parallelTrialCount), then after the delay Succeeded (reason
// ExperimentGoalReached when spec.objective.goal is set, else
// ExperimentMaxTrialsReached; with trial counts and a currentOptimalTrial) or
// Failed (maxFailedTrialCount exceeded). No Trial objects are created: the
// names in the status are made up.
func (s *simulator) experiment(ctx context.Context, u *unstructured.Unstructured) {
	if u.GetDeletionTimestamp() != nil {
		return
	}
	st := copyMap(u.Object["status"])
	if condTrue(st, "Succeeded") || condTrue(st, "Failed") {
		return
	}
	p := s.planFor(ref(u), string(u.GetUID()), u.GetLabels())
	parallel := intOr(u.Object, 3, "spec", "parallelTrialCount")
	maxTrials := intOr(u.Object, parallel, "spec", "maxTrialCount")
	maxFailed := intOr(u.Object, 0, "spec", "maxFailedTrialCount")
	parallel = min(parallel, maxTrials)

	var did []string
	if getCond(st, "Created") == nil {
		setCond(st, "Created", "True", "ExperimentCreated", "Experiment is created", true, false)
		did = append(did, "Created")
	}
	if st["startTime"] == nil {
		st["startTime"] = now()
	}
	if getCond(st, "Running") == nil {
		setCond(st, "Running", "True", "ExperimentRunning", "Experiment is running", true, false)
		st["trials"], st["trialsRunning"] = parallel, parallel
		did = append(did, "Running")
	}
	if due(u, p) {
		delete(st, "trialsRunning")
		var typ, reason, msg string
		if p.fail {
			failed := maxFailed + 1
			st["trials"], st["trialsFailed"] = failed, failed
			typ, reason, msg = "Failed", "ExperimentFailed", "Experiment has failed because max failed count has reached"
		} else {
			goal, hasGoal, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "objective", "goal")
			n := maxTrials
			typ, reason, msg = "Succeeded", "ExperimentMaxTrialsReached", "Experiment has succeeded because max trial count has reached"
			if hasGoal {
				n = parallel
				reason, msg = "ExperimentGoalReached", "Experiment has succeeded because Objective goal has reached"
			}
			st["trials"], st["trialsSucceeded"] = n, n
			st["currentOptimalTrial"] = optimalTrial(u, goal, hasGoal)
		}
		st["completionTime"] = now()
		if c := getCond(st, "Running"); c != nil {
			setCond(st, "Running", "False", strOr(c["reason"]), strOr(c["message"]), true, false)
		}
		setCond(st, typ, "True", reason, msg, true, false)
		did = append(did, fmt.Sprintf("%s (label %s=%s, after %s)", typ, simOutcomeLabel, p.outcome(), p.delay))
	}
	s.writeStatus(ctx, experimentGVR, u, st, strings.Join(did, ", "))
}

// optimalTrial makes up Katib's currentOptimalTrial: a trial name in Katib's
// <experiment>-<8 chars> form, the first value of each parameter's feasible
// space, and the objective metric at the goal (or 1 / 0 without a goal).
func optimalTrial(u *unstructured.Unstructured, goal any, hasGoal bool) map[string]any {
	h := fnv.New32a()
	h.Write([]byte(u.GetUID()))
	suffix := fmt.Sprintf("%08x", h.Sum32())
	var assignments []any
	params, _, _ := unstructured.NestedSlice(u.Object, "spec", "parameters")
	for _, p := range params {
		pm := asMap(p)
		fsp := asMap(pm["feasibleSpace"])
		value := strOr(fsp["min"])
		if list, ok := fsp["list"].([]any); ok && len(list) > 0 {
			value = fmt.Sprint(list[0])
		}
		assignments = append(assignments, map[string]any{"name": strOr(pm["name"]), "value": value})
	}
	metric, _, _ := unstructured.NestedString(u.Object, "spec", "objective", "objectiveMetricName")
	value := "1"
	if t, _, _ := unstructured.NestedString(u.Object, "spec", "objective", "type"); t == "minimize" {
		value = "0"
	}
	if hasGoal {
		value = fmt.Sprint(goal)
	}
	out := map[string]any{
		"bestTrialName":        u.GetName() + "-" + suffix,
		"parameterAssignments": assignments,
		"observation": map[string]any{"metrics": []any{
			map[string]any{"name": metric, "latest": value, "min": value, "max": value},
		}},
	}
	if assignments == nil {
		out["parameterAssignments"] = []any{}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func intOr(obj map[string]any, def int64, path ...string) int64 {
	if n, found, err := unstructured.NestedInt64(obj, path...); found && err == nil {
		return n
	}
	return def
}
