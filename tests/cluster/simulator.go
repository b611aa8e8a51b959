package main

// The operator simulator: a TEST DOUBLE, not an operator.
//
// The local cluster runs the REAL Kubeflow training operator, Katib, kube-scheduler and kwok
// (which plays the Node and its pods' lifecycle); see README.md. What cannot run here is
// KFServing/KServe and Knative Serving (they need Istio or Kourier, and model servers in
// containers), and a kaniko build log (kwok has no containers; its own log endpoint serves
// one fixed file, not a build's progress). This subcommand stands in for exactly those, so
// that kaptain's deploy and build-log paths can be exercised against a real API server, the
// real Job controller and the real garbage collector. It moves statuses the way those
// components do, and does nothing else: no model servers, no images.
//
//	simulator_serving.go   KFServing / KServe (InferenceService) and Knative Serving
//	                       (Service, Configuration, Route, Revision)
//	simulator_logs.go      the kubelet's log endpoint for the Node kwok plays: made-up
//	                       kaniko logs for pods/log of kaptain's build pods, follow included
//
// What happens is driven by labels on each object (a cell sets them through
// model.labels, which kaptain copies onto everything it creates, pod
// templates included); kwok's stages (up writes them) read the same labels for pods:
//
//	kaptain-sim/outcome        Succeeded (default) or Failed
//	kaptain-sim/build-outcome  for the build's pods only: Succeeded or Failed (default: kaptain-sim/outcome)
//	kaptain-sim/delay-seconds  seconds from the object's creation to the outcome (default 2; 0 allowed)
//
// Design: a poll loop over all namespaces (every --interval). It keeps no state
// of its own: every decision is computed from what the cluster holds (e.g. "the
// delay has elapsed" from metadata.creationTimestamp), so it is idempotent and
// can be stopped and restarted at any time. Every write is logged as one line
// on stderr. Objects deleted under it (NotFound) and write conflicts are
// logged and retried on the next pass, never fatal.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	simOutcomeLabel      = "kaptain-sim/outcome"
	simBuildOutcomeLabel = "kaptain-sim/build-outcome"
	simDelayLabel        = "kaptain-sim/delay-seconds"
	managedByLabel       = "app.kubernetes.io/managed-by"
	managedByValue       = "kaptain"
	defaultSimDelay      = 2 * time.Second
)

// simulator holds clients only; no object state lives here (see above).
type simulator struct {
	dyn   dynamic.Interface
	kube  kubernetes.Interface
	disco discovery.DiscoveryInterface
	log   *log.Logger
	node  string // the Node (kwok plays it) whose build pods' logs are served

	// From discovery, refreshed every few passes: which resources the API
	// server serves and whether each has a status subresource.
	served      map[schema.GroupVersionResource]bool // value: has /status
	discoveryAt time.Time
	// Messages already logged (so a bad label or a missing CRD is reported
	// once, not every pass). Only affects logging. Guarded by mu: the log
	// endpoint (simulator_logs.go) reads labels from its own goroutines.
	mu   sync.Mutex
	said map[string]bool
}

func runSimulator() int {
	fs := flag.NewFlagSet("simulator", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "admin kubeconfig (default $KUBECONFIG)")
	interval := fs.Duration("interval", 500*time.Millisecond, "time between two passes over the cluster")
	node := fs.String("node-name", "kaptain-node", "the Node (played by kwok) whose build pods' logs are served")
	kubeletPort := fs.Int("kubelet-port", 0, "port of the HTTPS log endpoint on 127.0.0.1 (0 = a free port); the Node's kubeletEndpoint must name it (up passes the same port to kwok)")
	once := fs.Bool("once", false, "make one pass and exit (for debugging)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: simulator [flags]\n\nTEST DOUBLE for KFServing/KServe, Knative Serving and the kubelet's log endpoint\n(kaniko's build log); see simulator.go and README.md.\n\n")
		fs.PrintDefaults()
	}
	fs.Parse(os.Args[1:])

	logger := log.New(os.Stderr, "simulator: ", log.LstdFlags|log.Lmicroseconds|log.LUTC)
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		logger.Printf("ERROR: kubeconfig %q: %v", *kubeconfig, err)
		return 2
	}
	cfg.UserAgent = "kaptain-simulator (test double)"
	cfg.QPS, cfg.Burst = 100, 200
	s := &simulator{log: logger, node: *node, said: map[string]bool{}}
	if s.dyn, err = dynamic.NewForConfig(cfg); err == nil {
		if s.kube, err = kubernetes.NewForConfig(cfg); err == nil {
			s.disco, err = discovery.NewDiscoveryClientForConfig(cfg)
		}
	}
	if err != nil {
		logger.Printf("ERROR: clients: %v", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// First contact: wait (bounded) until the API server answers.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err = s.kube.Discovery().ServerVersion(); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logger.Printf("ERROR: API server %s not reachable: %v", cfg.Host, err)
			return 1
		}
		time.Sleep(time.Second)
	}
	kubelet := "not started (--once)"
	if !*once {
		// The log endpoint (simulator_logs.go), in place before "ready:" so that
		// pods/log works as soon as up returns.
		port, err := s.startKubelet(ctx, *kubeletPort)
		if err != nil {
			logger.Printf("ERROR: kubelet double: listen on 127.0.0.1:%d: %v", *kubeletPort, err)
			return 1
		}
		kubelet = fmt.Sprintf("https://127.0.0.1:%d (build pods on Node %s)", port, s.node)
	}
	logger.Printf("ready: test double for KFServing/KServe, Knative and kaniko's log; API server %s, every %s, all namespaces; kubelet logs %s", cfg.Host, *interval, kubelet)

	for {
		s.pass(ctx)
		if *once {
			return 0
		}
		select {
		case <-ctx.Done():
			logger.Printf("stopping (%v)", context.Cause(ctx))
			return 0
		case <-time.After(*interval):
		}
	}
}

// pass looks once at everything the simulator plays a part for.
func (s *simulator) pass(ctx context.Context) {
	s.refreshDiscovery(false)
	s.inferenceServices(ctx)
}

// ------------------------------------------------------------------ discovery

var simGroupVersions = []schema.GroupVersion{
	{Group: "serving.kubeflow.org", Version: "v1beta1"},
	{Group: "serving.kserve.io", Version: "v1beta1"},
	{Group: "serving.knative.dev", Version: "v1"},
}

func (s *simulator) refreshDiscovery(force bool) {
	if !force && s.served != nil && time.Since(s.discoveryAt) < 5*time.Second {
		return
	}
	served := map[schema.GroupVersionResource]bool{}
	for _, gv := range simGroupVersions {
		list, err := s.disco.ServerResourcesForGroupVersion(gv.String())
		if err != nil {
			continue // group not installed: its kinds are skipped
		}
		for _, r := range list.APIResources {
			name, sub, _ := strings.Cut(r.Name, "/")
			gvr := gv.WithResource(name)
			if sub == "" {
				served[gvr] = served[gvr] || false
			} else if sub == "status" {
				served[gvr] = true
			}
		}
	}
	s.served, s.discoveryAt = served, time.Now()
}

// isServed reports whether gvr is served; says so once when it is not.
func (s *simulator) isServed(gvr schema.GroupVersionResource) bool {
	_, ok := s.served[gvr]
	if !ok {
		s.once("missing "+gvr.String(), "%s is not served (CRD not installed?): skipped until it is", gvr.GroupResource())
	}
	return ok
}

// ------------------------------------------------------------------ helpers

func (s *simulator) once(key, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.said[key] {
		s.said[key] = true
		s.log.Printf(format, args...)
	}
}

func (s *simulator) logf(format string, args ...any) { s.log.Printf(format, args...) }

// simPlan is what the kaptain-sim/* labels ask for.
type simPlan struct {
	fail  bool
	delay time.Duration
}

func (p simPlan) outcome() string {
	if p.fail {
		return "Failed"
	}
	return "Succeeded"
}

// planFor reads the kaptain-sim/* labels; bad values fall back to the
// defaults, with one log line per object.
func (s *simulator) planFor(what string, uid string, labels map[string]string) simPlan {
	p := simPlan{delay: defaultSimDelay}
	switch v := labels[simOutcomeLabel]; v {
	case "", "Succeeded":
	case "Failed":
		p.fail = true
	default:
		s.once("outcome "+uid, "%s: label %s=%q is neither Succeeded nor Failed; using Succeeded", what, simOutcomeLabel, v)
	}
	if v, ok := labels[simDelayLabel]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.once("delay "+uid, "%s: label %s=%q is not a number of seconds >= 0; using %s", what, simDelayLabel, v, defaultSimDelay)
		} else {
			p.delay = time.Duration(n) * time.Second
		}
	}
	return p
}

// due reports whether the plan's delay has elapsed since the object was created.
func due(obj metav1.Object, p simPlan) bool {
	return !time.Now().Before(obj.GetCreationTimestamp().Add(p.delay))
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

func ref(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// list lists gvr in all namespaces; nil (logged) on error.
func (s *simulator) list(ctx context.Context, gvr schema.GroupVersionResource, selector string) []unstructured.Unstructured {
	l, err := s.dyn.Resource(gvr).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		if apierrors.IsNotFound(err) {
			s.refreshDiscovery(true)
		} else if ctx.Err() == nil {
			s.logf("list %s: %v", gvr.GroupResource(), err)
		}
		return nil
	}
	return l.Items
}

// writeStatus replaces u's status with status unless the current status
// already holds everything in it (fields the server defaulted do not count as
// a difference): through the status subresource when the CRD has one, else by
// updating the object.
// NotFound (deleted under us) and Conflict (changed under us) are logged and
// left to the next pass.
func (s *simulator) writeStatus(ctx context.Context, gvr schema.GroupVersionResource, u *unstructured.Unstructured, status map[string]any, what string) bool {
	if subset(status, u.Object["status"]) {
		return false
	}
	v := u.DeepCopy()
	v.Object["status"] = status
	var err error
	client := s.dyn.Resource(gvr).Namespace(u.GetNamespace())
	if s.served[gvr] {
		_, err = client.UpdateStatus(ctx, v, metav1.UpdateOptions{FieldManager: "kaptain-simulator", FieldValidation: "Strict"})
	} else {
		_, err = client.Update(ctx, v, metav1.UpdateOptions{FieldManager: "kaptain-simulator", FieldValidation: "Strict"})
	}
	return s.report(err, "status %s: %s", ref(u), what)
}

// report logs the outcome of one write; true when it succeeded.
func (s *simulator) report(err error, format string, args ...any) bool {
	msg := fmt.Sprintf(format, args...)
	switch {
	case err == nil:
		s.logf("%s", msg)
		return true
	case apierrors.IsNotFound(err):
		s.logf("%s: skipped, object is gone", msg)
	case apierrors.IsConflict(err):
		s.logf("%s: conflict, retrying on the next pass", msg)
	case apierrors.IsAlreadyExists(err):
		s.logf("%s: already exists, looking again on the next pass", msg)
	case errors.Is(err, context.Canceled):
	default:
		s.logf("%s: ERROR %v", msg, err)
	}
	return false
}

// subset reports whether JSON value want is contained in have: objects by
// key (extra keys in have are ignored), arrays element by element (same
// length), scalars equal. Compared as JSON, so int vs int64 does not matter.
func subset(want, have any) bool {
	return sub(normJSON(want), normJSON(have))
}

func sub(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, v := range w {
			hv, found := h[k]
			if !found || !sub(v, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return len(w) == 0 && have == nil
		}
		for i := range w {
			if !sub(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, have)
	}
}

func normJSON(v any) any {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

// copyMap returns a deep copy of a JSON object (nil gives an empty map).
func copyMap(m any) map[string]any {
	if mm, ok := normJSON(m).(map[string]any); ok {
		return mm
	}
	return map[string]any{}
}

// condition helpers over a status map's "conditions" list.

func getCond(status map[string]any, typ string) map[string]any {
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func condTrue(status map[string]any, typ string) bool {
	c := getCond(status, typ)
	return c != nil && c["status"] == "True"
}

// setCond sets condition typ as the upstream controllers do: nothing changes
// when status and reason are the same; lastTransitionTime is kept when only
// the reason or message changes. The updated condition moves to the end
// (Kubeflow) unless sorted is set (Knative sorts conditions by type).
// withUpdateTime adds lastUpdateTime (Kubeflow's JobCondition has it, Knative's does not).
func setCond(status map[string]any, typ, st, reason, msg string, withUpdateTime, sorted bool) {
	conds, _ := status["conditions"].([]any)
	cur := getCond(status, typ)
	if cur != nil && cur["status"] == st && strOr(cur["reason"]) == reason && strOr(cur["message"]) == msg {
		return
	}
	t := now()
	c := map[string]any{"type": typ, "status": st, "lastTransitionTime": t}
	if cur != nil && cur["status"] == st && cur["lastTransitionTime"] != nil {
		c["lastTransitionTime"] = cur["lastTransitionTime"]
	}
	if withUpdateTime {
		c["lastUpdateTime"] = t
	}
	if reason != "" {
		c["reason"] = reason
	}
	if msg != "" {
		c["message"] = msg
	}
	out := make([]any, 0, len(conds)+1)
	for _, o := range conds {
		if m, ok := o.(map[string]any); ok && m["type"] == typ {
			if sorted {
				out = append(out, c)
				c = nil
			}
			continue
		}
		out = append(out, o)
	}
	if c != nil {
		out = append(out, c)
	}
	if sorted {
		sortConds(out)
	}
	status["conditions"] = out
}

func sortConds(conds []any) {
	key := func(i int) string { m, _ := conds[i].(map[string]any); return strOr(m["type"]) }
	for i := 1; i < len(conds); i++ { // insertion sort: a handful of entries
		for j := i; j > 0 && key(j-1) > key(j); j-- {
			conds[j-1], conds[j] = conds[j], conds[j-1]
		}
	}
}

func strOr(v any) string {
	s, _ := v.(string)
	return s
}

// controlledBy reports whether obj's controller ownerReference is owner.
func controlledBy(obj, owner metav1.Object) bool {
	c := metav1.GetControllerOf(obj)
	return c != nil && c.UID == owner.GetUID()
}

func controllerRef(owner *unstructured.Unstructured) []any {
	return []any{map[string]any{
		"apiVersion":         owner.GetAPIVersion(),
		"kind":               owner.GetKind(),
		"name":               owner.GetName(),
		"uid":                string(owner.GetUID()),
		"controller":         true,
		"blockOwnerDeletion": true,
	}}
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
