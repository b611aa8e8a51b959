package main

// TEST DOUBLE part 3 (see simulator.go): the scheduler and the kubelet, for
// kaptain's own run-to-completion pods only (the kaniko build Job's pods,
// which the REAL Job controller creates from the Job).
//
// It touches a pod only when ALL of these hold: the pod is labelled
// app.kubernetes.io/managed-by=kaptain; its restartPolicy is Never or
// OnFailure; it is unbound or bound to the simulator's node. Then, like a
// scheduler + kubelet:
//
//  1. binds it (pods/binding) to the node --node-name (the binding sets
//     condition PodScheduled; binding needs no Node object, but
//     simulator_logs.go keeps one of that name Ready, with the log endpoint
//     that serves the pod's log);
//  2. reports it Running (startTime, containers running and ready, conditions
//     PodReadyToStartContainers, Initialized, ContainersReady, Ready), always,
//     even with delay 0;
//  3. once kaptain-sim/delay-seconds have passed since the pod's creation,
//     reports phase Succeeded (every container terminated, exit code 0,
//     reason Completed) or, for kaptain-sim/outcome=Failed, phase Failed
//     (exit code 1, reason Error). The real Job controller counts the pod
//     (it carries the batch.kubernetes.io/job-tracking finalizer), removes the
//     finalizer and marks the Job Complete, or Failed (backoffLimit 0:
//     BackoffLimitExceeded);
//  4. when such a pod is deleted (graceful deletion waits for the kubelet
//     once a pod is bound): a running pod is reported Failed (exit code 137,
//     as after SIGKILL), then the deletion is confirmed with grace period 0.

import (
	"context"
	"crypto/sha256"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func (s *simulator) pods(ctx context.Context) {
	list, err := s.kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: managedByLabel + "=" + managedByValue})
	if err != nil {
		if ctx.Err() == nil {
			s.logf("list pods: %v", err)
		}
		return
	}
	for i := range list.Items {
		s.pod(ctx, &list.Items[i])
	}
}

func (s *simulator) pod(ctx context.Context, pod *corev1.Pod) {
	what := fmt.Sprintf("Pod %s/%s", pod.Namespace, pod.Name)
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
		s.once("always "+string(pod.UID), "%s: restartPolicy Always, not a run-to-completion pod; left alone", what)
		return
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != s.node {
		return // bound to some other node: not ours to play
	}
	client := s.kube.CoreV1().Pods(pod.Namespace)
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	opts := metav1.UpdateOptions{FieldManager: "kaptain-simulator"}

	if pod.DeletionTimestamp != nil {
		if pod.Spec.NodeName == "" {
			return // never bound: the API server does not wait for a kubelet
		}
		if !terminal {
			p := pod.DeepCopy()
			finish(p, corev1.PodFailed, 137, "Error", "deleted while running: killed (test double)")
			_, err := client.UpdateStatus(ctx, p, opts)
			s.report(err, "status %s: deleted while running -> phase Failed (exit code 137)", what)
			return
		}
		if len(pod.Finalizers) > 0 {
			return // e.g. batch.kubernetes.io/job-tracking: the Job controller removes it first
		}
		uid := pod.UID
		err := client.Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
		s.report(err, "delete %s (grace period 0: containers stopped, as the kubelet confirms)", what)
		return
	}
	if terminal {
		return
	}

	if pod.Spec.NodeName == "" {
		err := client.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: s.node},
		}, metav1.CreateOptions{FieldManager: "kaptain-simulator"})
		if !s.report(err, "bind %s to node %s", what, s.node) {
			return
		}
		if pod, err = client.Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			s.report(err, "get %s", what)
			return
		}
	}

	plan := s.planFor(what, string(pod.UID), buildLabels(pod.Labels))
	p := pod.DeepCopy()
	var msg string
	switch {
	case pod.Status.Phase != corev1.PodRunning: // always reported Running once, even with delay 0
		run(p)
		msg = "phase Running"
	case due(pod, plan) && plan.fail:
		finish(p, corev1.PodFailed, 1, "Error", "")
		msg = "phase Failed (exit code 1)"
	case due(pod, plan):
		finish(p, corev1.PodSucceeded, 0, "Completed", "")
		msg = "phase Succeeded (exit code 0)"
	default:
		return
	}
	if msg != "phase Running" {
		msg += fmt.Sprintf(" (label %s=%s, after %s)", simOutcomeLabel, plan.outcome(), plan.delay)
	}
	_, err := client.UpdateStatus(ctx, p, opts)
	s.report(err, "status %s: %s", what, msg)
}

// run makes p's status what a kubelet reports for started containers.
func run(p *corev1.Pod) {
	t := metav1.Now()
	if p.Status.StartTime == nil {
		p.Status.StartTime = &t
	}
	p.Status.Phase = corev1.PodRunning
	for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		setPodCond(p, c, corev1.ConditionTrue, "")
	}
	p.Status.InitContainerStatuses = containerStatuses(p, p.Spec.InitContainers, &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"})
	p.Status.ContainerStatuses = containerStatuses(p, p.Spec.Containers, nil)
}

// finish makes p's status what a kubelet reports once every container exited.
func finish(p *corev1.Pod, phase corev1.PodPhase, exitCode int32, reason, message string) {
	if p.Status.StartTime == nil {
		t := metav1.Now()
		p.Status.StartTime = &t
	}
	p.Status.Phase = phase
	why := "PodCompleted"
	if phase == corev1.PodFailed {
		why = "PodFailed"
	}
	setPodCond(p, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "")
	setPodCond(p, corev1.PodInitialized, corev1.ConditionTrue, why)
	setPodCond(p, corev1.ContainersReady, corev1.ConditionFalse, why)
	setPodCond(p, corev1.PodReady, corev1.ConditionFalse, why)
	p.Status.InitContainerStatuses = containerStatuses(p, p.Spec.InitContainers, &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"})
	p.Status.ContainerStatuses = containerStatuses(p, p.Spec.Containers,
		&corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, Message: message})
}

// containerStatuses: running and ready when terminated is nil, else terminated as given.
func containerStatuses(p *corev1.Pod, containers []corev1.Container, terminated *corev1.ContainerStateTerminated) []corev1.ContainerStatus {
	if len(containers) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		id := fmt.Sprintf("containerd://%x", sha256.Sum256([]byte(string(p.UID)+"/"+c.Name)))
		st := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: digest(c.Image), ContainerID: id,
		}
		started := *p.Status.StartTime
		if terminated == nil {
			st.Ready, st.Started = true, ptrTo(true)
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
		} else {
			t := *terminated
			t.StartedAt, t.FinishedAt, t.ContainerID = started, metav1.Now(), id
			st.Started = ptrTo(false)
			st.State.Terminated = &t
		}
		out = append(out, st)
	}
	return out
}

func setPodCond(p *corev1.Pod, typ corev1.PodConditionType, status corev1.ConditionStatus, reason string) {
	t := metav1.Now()
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type == typ {
			if c.Status != status {
				c.LastTransitionTime = t
			}
			c.Status, c.Reason = status, reason
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: typ, Status: status, Reason: reason, LastTransitionTime: t})
}

func ptrTo[T any](v T) *T { return &v }

// buildLabels lets kaptain-sim/build-outcome decide a build pod's outcome on its own, so
// that a train or tune run can fail after its build succeeded (or the other way round).
func buildLabels(labels map[string]string) map[string]string {
	build, ok := labels[simBuildOutcomeLabel]
	if !ok {
		return labels
	}
	copied := make(map[string]string, len(labels))
	for k, v := range labels {
		copied[k] = v
	}
	copied[simOutcomeLabel] = build
	return copied
}
