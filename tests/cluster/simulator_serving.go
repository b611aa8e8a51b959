package main

// TEST DOUBLE part 2 (see simulator.go): KFServing (serving.kubeflow.org)
// and KServe (serving.kserve.io) InferenceServices in Knative (serverless)
// mode, and the part of Knative Serving that turns a Knative Service into a
// Configuration, Route and Revisions.
//
// For InferenceService <isvc> it creates, as the real controllers do:
//
//	Knative Service        <isvc>-predictor-default (KFServing) / <isvc>-predictor (KServe),
//	                       controlled by the InferenceService (controller, blockOwnerDeletion);
//	                       labels: the InferenceService's labels + <group>/inferenceservice=<isvc>
//	                       + component=predictor (on the object and its template)
//	Configuration, Route   same name, controlled by the Knative Service; labels: the Service's +
//	                       serving.knative.dev/service, serving.knative.dev/serviceUID
//	Revision               <configuration>-<generation, 5 digits>, controlled by the Configuration;
//	                       labels: the template's + serving.knative.dev/configuration,
//	                       configurationUID, configurationGeneration, service, serviceUID,
//	                       routingState (pending -> active for the routed one, reserve for older ones)
//
// so that the real garbage collector deletes the chain when the
// InferenceService goes. A change of the predictor (hence of the Service's
// template) bumps the Configuration's generation and stamps out a new
// Revision; older ones are kept. Route traffic: 100% to the newest ready
// Revision (latestRevision: true).
//
// A Revision becomes ready (or failed, per its kaptain-sim/* labels, which it
// inherits from the InferenceService through the template) once the delay
// has passed since its creation. Statuses follow: Revision (Ready,
// ContainerHealthy, ResourcesAvailable, Active), Configuration (Ready,
// latestCreated/ReadyRevisionName), Route (AllTrafficAssigned, IngressReady,
// Ready, traffic, url), Service (ConfigurationsReady, RoutesReady, Ready),
// InferenceService (PredictorConfigurationReady, PredictorRouteReady,
// PredictorReady, IngressReady, Ready [+ LatestDeploymentReady, modelStatus for
// KServe], url, address, components.predictor).
//
// Not simulated: the Revision's Deployment, PodAutoscaler and pods (where
// Knative puts the serving.knative.dev/revision label), istio objects,
// transformers/explainers, canary traffic splits.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type servingFlavor struct {
	name        string // for log lines
	gvr         schema.GroupVersionResource
	isvcLabel   string // label naming the InferenceService on everything it owns
	suffix      string // Knative Service name = <isvc><suffix>
	container   string // predictor container name
	storageAnno string // annotation the storage initializer reads
	kserve      bool
	images      map[string]string // framework -> model server image (tag: runtimeVersion)
}

var servingFlavors = []servingFlavor{
	{
		name: "KFServing", gvr: schema.GroupVersionResource{Group: "serving.kubeflow.org", Version: "v1beta1", Resource: "inferenceservices"},
		isvcLabel: "serving.kubeflow.org/inferenceservice", suffix: "-predictor-default", container: "kfserving-container",
		storageAnno: "internal.serving.kubeflow.org/storage-initializer-sourceuri",
		images: map[string]string{"tensorflow": "tensorflow/serving", "pytorch": "gcr.io/kfserving/pytorchserver",
			"sklearn": "gcr.io/kfserving/sklearnserver", "xgboost": "gcr.io/kfserving/xgbserver", "onnx": "mcr.microsoft.com/onnxruntime/server",
			"triton": "nvcr.io/nvidia/tritonserver"},
	},
	{
		name: "KServe", gvr: schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"},
		isvcLabel: "serving.kserve.io/inferenceservice", suffix: "-predictor", container: "kserve-container",
		storageAnno: "internal.serving.kserve.io/storage-initializer-sourceuri", kserve: true,
		images: map[string]string{"tensorflow": "tensorflow/serving", "pytorch": "pytorch/torchserve-kfs",
			"sklearn": "kserve/sklearnserver", "xgboost": "kserve/xgbserver", "onnx": "mcr.microsoft.com/onnxruntime/server",
			"triton": "nvcr.io/nvidia/tritonserver"},
	},
}

var (
	knServiceGVR  = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	knConfigGVR   = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "configurations"}
	knRouteGVR    = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "routes"}
	knRevisionGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}
)

const (
	knService       = "serving.knative.dev/service"
	knServiceUID    = "serving.knative.dev/serviceUID"
	knConfiguration = "serving.knative.dev/configuration"
	knConfigUID     = "serving.knative.dev/configurationUID"
	knConfigGen     = "serving.knative.dev/configurationGeneration"
	knRoutingState  = "serving.knative.dev/routingState"
	knRoutingMod    = "serving.knative.dev/routingStateModified"
)

func (s *simulator) inferenceServices(ctx context.Context) {
	knative := true
	for _, gvr := range []schema.GroupVersionResource{knServiceGVR, knConfigGVR, knRouteGVR, knRevisionGVR} {
		knative = s.isServed(gvr) && knative
	}
	for _, f := range servingFlavors {
		if !s.isServed(f.gvr) {
			continue
		}
		items := s.list(ctx, f.gvr, "")
		for i := range items {
			if !knative {
				s.once("no knative "+string(items[i].GetUID()), "%s: Knative Serving CRDs missing; InferenceServices left alone", ref(&items[i]))
				continue
			}
			s.inferenceService(ctx, f, &items[i])
		}
	}
}

// revState is what a Revision has become, by its labels and age.
type revState int

const (
	revPending revState = iota
	revReady
	revFailed
)

func (s *simulator) inferenceService(ctx context.Context, f servingFlavor, isvc *unstructured.Unstructured) {
	if isvc.GetDeletionTimestamp() != nil {
		return // the garbage collector takes its Knative objects away
	}
	ns, name := isvc.GetNamespace(), isvc.GetName()
	svcName := name + f.suffix
	tmpl, err := predictorTemplate(f, isvc)
	if err != nil {
		s.once(fmt.Sprintf("bad %s/%d", isvc.GetUID(), isvc.GetGeneration()), "%s: %v", ref(isvc), err)
		st := copyMap(isvc.Object["status"])
		setCond(st, "PredictorReady", "False", "InvalidSpec", err.Error(), false, true)
		setCond(st, "Ready", "False", "InvalidSpec", err.Error(), false, true)
		s.writeStatus(ctx, f.gvr, isvc, st, "Ready=False (InvalidSpec)")
		return
	}
	svcLabels := union(isvc.GetLabels(), map[string]string{f.isvcLabel: name, "component": "predictor"})

	// Knative Service, controlled by the InferenceService.
	ksvc := s.ensureChild(ctx, knServiceGVR, isvc, svcName, func() map[string]any {
		return map[string]any{
			"metadata": map[string]any{"labels": toAny(svcLabels), "annotations": toAny(filteredAnnotations(isvc))},
			"spec": map[string]any{
				"template": tmpl,
				"traffic":  []any{map[string]any{"latestRevision": true, "percent": int64(100)}},
			},
		}
	}, func(cur *unstructured.Unstructured) string {
		// Changed when the template no longer holds everything the predictor
		// asks for (one-way, so that fields the API server defaults do not
		// count; a field merely removed from the predictor goes unnoticed).
		curTmpl, _, _ := unstructured.NestedFieldNoCopy(cur.Object, "spec", "template")
		if subset(tmpl, curTmpl) && subset(toAny(svcLabels), toAny(cur.GetLabels())) {
			return ""
		}
		_ = unstructured.SetNestedField(cur.Object, tmpl, "spec", "template")
		cur.SetLabels(union(cur.GetLabels(), svcLabels))
		return "predictor changed"
	})
	if ksvc == nil {
		return
	}
	knLabels := union(ksvc.GetLabels(), map[string]string{knService: svcName, knServiceUID: string(ksvc.GetUID())})
	svcTmpl, _, _ := unstructured.NestedMap(ksvc.Object, "spec", "template")

	// Configuration, controlled by the Knative Service; its template follows the Service's.
	cfg := s.ensureChild(ctx, knConfigGVR, ksvc, svcName, func() map[string]any {
		return map[string]any{
			"metadata": map[string]any{"labels": toAny(knLabels)},
			"spec":     map[string]any{"template": svcTmpl},
		}
	}, func(cur *unstructured.Unstructured) string {
		curTmpl, _, _ := unstructured.NestedFieldNoCopy(cur.Object, "spec", "template")
		if subset(svcTmpl, curTmpl) && subset(curTmpl, svcTmpl) { // same schema, same defaults: plain equality
			return ""
		}
		_ = unstructured.SetNestedField(cur.Object, svcTmpl, "spec", "template")
		return "template of Service changed"
	})
	// Route, controlled by the Knative Service: all traffic to the latest ready Revision.
	route := s.ensureChild(ctx, knRouteGVR, ksvc, svcName, func() map[string]any {
		return map[string]any{
			"metadata": map[string]any{"labels": toAny(knLabels)},
			"spec": map[string]any{"traffic": []any{map[string]any{
				"configurationName": svcName, "latestRevision": true, "percent": int64(100)}}},
		}
	}, nil)
	if cfg == nil || route == nil {
		return
	}

	// The Revision for the Configuration's current generation, controlled by the Configuration.
	gen := cfg.GetGeneration()
	cfgTmpl, _, _ := unstructured.NestedMap(cfg.Object, "spec", "template")
	revName := fmt.Sprintf("%s-%05d", svcName, gen)
	latest := s.ensureChild(ctx, knRevisionGVR, cfg, revName, func() map[string]any {
		meta := asMap(cfgTmpl["metadata"])
		labels := union(toStrings(meta["labels"]), map[string]string{
			knConfiguration: svcName, knConfigUID: string(cfg.GetUID()), knConfigGen: strconv.FormatInt(gen, 10),
			knService: svcName, knServiceUID: string(ksvc.GetUID()), knRoutingState: "pending",
		})
		annotations := union(toStrings(meta["annotations"]), map[string]string{knRoutingMod: now()})
		return map[string]any{
			"metadata": map[string]any{"labels": toAny(labels), "annotations": toAny(annotations)},
			"spec":     cfgTmpl["spec"],
		}
	}, nil)
	if latest == nil {
		return
	}

	// All Revisions of this Configuration, newest first, with what each has become.
	var revs []*unstructured.Unstructured
	for _, r := range s.list(ctx, knRevisionGVR, knConfiguration+"="+svcName) {
		if r.GetNamespace() == ns && controlledBy(&r, cfg) && r.GetName() != latest.GetName() {
			revs = append(revs, r.DeepCopy())
		}
	}
	revs = append(revs, latest)
	generation := func(r *unstructured.Unstructured) int64 {
		n, _ := strconv.ParseInt(r.GetLabels()[knConfigGen], 10, 64)
		return n
	}
	sort.Slice(revs, func(i, j int) bool { return generation(revs[i]) > generation(revs[j]) })
	state := map[string]revState{}
	var routed, previous string // newest ready Revision, and the ready one before it
	for _, r := range revs {
		p := s.planFor(ref(r), string(r.GetUID()), r.GetLabels())
		switch {
		case !due(r, p):
			state[r.GetName()] = revPending
		case p.fail:
			state[r.GetName()] = revFailed
		default:
			state[r.GetName()] = revReady
			if routed == "" {
				routed = r.GetName()
			} else if previous == "" {
				previous = r.GetName()
			}
		}
	}
	failMsg := fmt.Sprintf("Container failed with: model server exited with code 1 (test double: label %s=Failed)", simOutcomeLabel)

	// Revisions: routing-state label, then status.
	for _, r := range revs {
		rn := r.GetName()
		want := "reserve" // older Revisions: kept, no traffic
		if rn == routed {
			want = "active"
		} else if rn == latest.GetName() {
			want = "pending" // not (yet) routed
		}
		if r.GetLabels()[knRoutingState] != want {
			c := r.DeepCopy()
			c.SetLabels(union(c.GetLabels(), map[string]string{knRoutingState: want}))
			c.SetAnnotations(union(c.GetAnnotations(), map[string]string{knRoutingMod: now()}))
			u, err := s.dyn.Resource(knRevisionGVR).Namespace(ns).Update(ctx, c, metav1.UpdateOptions{FieldManager: "kaptain-simulator"})
			if !s.report(err, "label %s: %s=%s", ref(r), knRoutingState, want) {
				continue
			}
			r = u
		}
		st := copyMap(r.Object["status"])
		st["observedGeneration"] = r.GetGeneration()
		switch state[rn] {
		case revPending:
			for _, t := range []string{"ContainerHealthy", "ResourcesAvailable", "Ready", "Active"} {
				setCond(st, t, "Unknown", "Deploying", "", false, true)
			}
		case revReady, revFailed:
			var images []any
			containers, _, _ := unstructured.NestedSlice(r.Object, "spec", "containers")
			for _, c := range containers {
				cm := asMap(c)
				images = append(images, map[string]any{"name": strOr(cm["name"]), "imageDigest": digest(strOr(cm["image"]))})
			}
			st["containerStatuses"] = images
			if state[rn] == revReady {
				setCond(st, "ContainerHealthy", "True", "", "", false, true)
				setCond(st, "ResourcesAvailable", "True", "", "", false, true)
				setCond(st, "Ready", "True", "", "", false, true)
			} else {
				setCond(st, "ContainerHealthy", "False", "ExitCode", failMsg, false, true)
				setCond(st, "ResourcesAvailable", "False", "ExitCode", failMsg, false, true)
				setCond(st, "Ready", "False", "ExitCode", failMsg, false, true)
			}
			if rn == routed {
				setCond(st, "Active", "True", "", "", false, true)
			} else {
				setCond(st, "Active", "False", "NoTraffic", "The target is not receiving traffic.", false, true)
			}
		}
		s.writeStatus(ctx, knRevisionGVR, r, st, revisionWhat(state[rn], rn == routed))
	}

	// Configuration status: Ready follows the latest created Revision.
	cst := copyMap(cfg.Object["status"])
	cst["observedGeneration"] = gen
	cst["latestCreatedRevisionName"] = latest.GetName()
	if routed != "" {
		cst["latestReadyRevisionName"] = routed
	}
	cfgReady := [3]string{"Unknown", "", ""} // status, reason, message
	switch state[latest.GetName()] {
	case revReady:
		cfgReady = [3]string{"True", "", ""}
	case revFailed:
		cfgReady = [3]string{"False", "RevisionFailed", fmt.Sprintf("Revision %q failed with message: %s.", latest.GetName(), failMsg)}
	}
	setCond(cst, "Ready", cfgReady[0], cfgReady[1], cfgReady[2], false, true)
	s.writeStatus(ctx, knConfigGVR, cfg, cst, "Ready="+cfgReady[0]+" latestCreated="+latest.GetName()+" latestReady="+routed)

	// Route status: traffic to the newest ready Revision.
	host := fmt.Sprintf("%s.%s", svcName, ns)
	rst := copyMap(route.Object["status"])
	rst["observedGeneration"] = route.GetGeneration()
	routeReady := [3]string{"Unknown", "RevisionMissing", fmt.Sprintf("Configuration %q is waiting for a Revision to become ready.", svcName)}
	var traffic []any
	if routed != "" {
		routeReady = [3]string{"True", "", ""}
		traffic = []any{map[string]any{"revisionName": routed, "latestRevision": true, "percent": int64(100)}}
		rst["traffic"] = traffic
		rst["url"] = "http://" + host + ".example.com"
		rst["address"] = map[string]any{"url": "http://" + host + ".svc.cluster.local"}
	} else if state[latest.GetName()] == revFailed {
		routeReady = [3]string{"False", "RevisionMissing", fmt.Sprintf("Configuration %q does not have any ready Revision.", svcName)}
	}
	setCond(rst, "AllTrafficAssigned", routeReady[0], routeReady[1], routeReady[2], false, true)
	setCond(rst, "IngressReady", routeReady[0], routeReady[1], routeReady[2], false, true)
	setCond(rst, "Ready", routeReady[0], routeReady[1], routeReady[2], false, true)
	s.writeStatus(ctx, knRouteGVR, route, rst, "Ready="+routeReady[0]+" traffic 100% -> "+orNone(routed))

	// Knative Service status: the union of the two.
	sst := copyMap(ksvc.Object["status"])
	sst["observedGeneration"] = ksvc.GetGeneration()
	sst["latestCreatedRevisionName"] = latest.GetName()
	if routed != "" {
		sst["latestReadyRevisionName"] = routed
		sst["traffic"], sst["url"], sst["address"] = traffic, rst["url"], rst["address"]
	}
	svcReady := both(cfgReady, routeReady)
	setCond(sst, "ConfigurationsReady", cfgReady[0], cfgReady[1], cfgReady[2], false, true)
	setCond(sst, "RoutesReady", routeReady[0], routeReady[1], routeReady[2], false, true)
	setCond(sst, "Ready", svcReady[0], svcReady[1], svcReady[2], false, true)
	s.writeStatus(ctx, knServiceGVR, ksvc, sst, "Ready="+svcReady[0])

	// InferenceService status, as KFServing/KServe propagate it from the Knative Service.
	ist := copyMap(isvc.Object["status"])
	ist["observedGeneration"] = isvc.GetGeneration()
	comp := map[string]any{"latestCreatedRevision": latest.GetName()}
	if routed != "" {
		comp["latestReadyRevision"] = routed
		comp["latestRolledoutRevision"] = routed
		comp["traffic"] = traffic
		comp["url"] = sst["url"]
		comp["address"] = sst["address"]
		if previous != "" {
			comp["previousRolledoutRevision"] = previous
		}
		ist["url"] = fmt.Sprintf("http://%s.%s.example.com", name, ns)
		if f.kserve {
			ist["address"] = map[string]any{"url": fmt.Sprintf("http://%s.%s.svc.cluster.local", name, ns)}
		} else {
			ist["address"] = map[string]any{"url": fmt.Sprintf("http://%s.%s.svc.cluster.local/v1/models/%s:predict", name, ns, name)}
		}
	}
	ist["components"] = map[string]any{"predictor": comp}
	setCond(ist, "PredictorConfigurationReady", cfgReady[0], cfgReady[1], cfgReady[2], false, true)
	setCond(ist, "PredictorRouteReady", routeReady[0], routeReady[1], routeReady[2], false, true)
	setCond(ist, "PredictorReady", svcReady[0], svcReady[1], svcReady[2], false, true)
	setCond(ist, "IngressReady", routeReady[0], routeReady[1], routeReady[2], false, true)
	isvcReady := both(svcReady, routeReady)
	setCond(ist, "Ready", isvcReady[0], isvcReady[1], isvcReady[2], false, true)
	if f.kserve {
		setCond(ist, "LatestDeploymentReady", cfgReady[0], cfgReady[1], cfgReady[2], false, true)
		ist["deploymentMode"] = "Serverless"
		ist["modelStatus"] = kserveModelStatus(state[latest.GetName()], latest.GetName(), failMsg)
	}
	what := fmt.Sprintf("Ready=%s", isvcReady[0])
	if state[latest.GetName()] != revPending {
		p := s.planFor(ref(latest), string(latest.GetUID()), latest.GetLabels())
		what += fmt.Sprintf(" (revision %s: label %s=%s, after %s)", latest.GetName(), simOutcomeLabel, p.outcome(), p.delay)
	}
	s.writeStatus(ctx, f.gvr, isvc, ist, what)
}

// ensureChild returns the object gvr/name in owner's namespace, creating it
// (from build(): metadata labels/annotations and spec; name, namespace and
// the controller ownerReference are added here) when it is missing. An
// existing object passes through update (when given), which edits it and
// returns why, or "" for no change. nil when the object could not be had this
// pass, or when it exists but is not controlled by owner (e.g. a previous
// owner's child still waiting for the garbage collector).
func (s *simulator) ensureChild(ctx context.Context, gvr schema.GroupVersionResource, owner *unstructured.Unstructured,
	name string, build func() map[string]any, update func(*unstructured.Unstructured) string) *unstructured.Unstructured {
	ns := owner.GetNamespace()
	client := s.dyn.Resource(gvr).Namespace(ns)
	cur, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj := &unstructured.Unstructured{Object: build()}
		obj.SetAPIVersion(gvr.GroupVersion().String())
		obj.SetKind(kindOf(gvr))
		obj.SetNamespace(ns)
		obj.SetName(name)
		_ = unstructured.SetNestedSlice(obj.Object, controllerRef(owner), "metadata", "ownerReferences")
		created, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kaptain-simulator", FieldValidation: "Strict"})
		if !s.report(err, "create %s %s/%s (controlled by %s)", kindOf(gvr), ns, name, ref(owner)) {
			return nil
		}
		return created
	}
	if err != nil {
		s.report(err, "get %s %s/%s", kindOf(gvr), ns, name)
		return nil
	}
	if cur.GetDeletionTimestamp() != nil || !controlledBy(cur, owner) {
		s.once("foreign "+string(cur.GetUID()), "%s is not (or no longer) controlled by %s; waiting for the garbage collector", ref(cur), ref(owner))
		return nil
	}
	if update != nil {
		c := cur.DeepCopy()
		if why := update(c); why != "" {
			updated, err := client.Update(ctx, c, metav1.UpdateOptions{FieldManager: "kaptain-simulator", FieldValidation: "Strict"})
			if !s.report(err, "update %s (%s)", ref(cur), why) {
				return nil
			}
			return updated
		}
	}
	return cur
}

// predictorTemplate is the Knative revision template KFServing/KServe make
// from spec.predictor: one container (the predictor's own `containers[0]`, or
// the model server image of its framework with its storageUri, runtimeVersion
// and resources), the service account, and annotations for the autoscaler and
// the storage initializer.
func predictorTemplate(f servingFlavor, isvc *unstructured.Unstructured) (map[string]any, error) {
	pred, found, _ := unstructured.NestedMap(isvc.Object, "spec", "predictor")
	if !found {
		return nil, fmt.Errorf("spec.predictor is missing")
	}
	name := isvc.GetName()
	annotations := filteredAnnotations(isvc)
	annotations["autoscaling.knative.dev/class"] = "kpa.autoscaling.knative.dev"
	annotations["autoscaling.knative.dev/minScale"] = fmt.Sprint(intOr(pred, 1, "minReplicas"))
	if n := intOr(pred, 0, "maxReplicas"); n > 0 {
		annotations["autoscaling.knative.dev/maxScale"] = fmt.Sprint(n)
	}

	var container map[string]any
	if cs, ok := pred["containers"].([]any); ok && len(cs) > 0 {
		container = copyMap(cs[0])
		if strOr(container["name"]) == "" {
			container["name"] = f.container
		}
	} else {
		var frameworks []string
		for k, v := range pred {
			if m, ok := v.(map[string]any); ok && (m["storageUri"] != nil || f.images[k] != "") {
				frameworks = append(frameworks, k)
			}
		}
		sort.Strings(frameworks)
		if len(frameworks) == 0 {
			return nil, fmt.Errorf("spec.predictor names no framework (tensorflow, pytorch, ...) and no containers")
		}
		fw := frameworks[0]
		spec := asMap(pred[fw])
		image := f.images[fw]
		if image == "" {
			image = "example.com/" + fw + "-server"
		}
		version := strOr(spec["runtimeVersion"])
		if version == "" {
			version = "latest"
		}
		container = map[string]any{"name": f.container, "image": image + ":" + version}
		if fw == "tensorflow" {
			container["command"] = []any{"/usr/bin/tensorflow_model_server"}
			container["args"] = []any{"--port=9000", "--rest_api_port=8080", "--model_name=" + name,
				"--model_base_path=/mnt/models", "--rest_api_timeout_in_ms=60000"}
		} else {
			container["args"] = []any{"--model_name=" + name, "--model_dir=/mnt/models", "--http_port=8080"}
		}
		for _, k := range []string{"resources", "env"} {
			if v, ok := spec[k]; ok {
				container[k] = normJSON(v)
			}
		}
		if uri := strOr(spec["storageUri"]); uri != "" {
			annotations[f.storageAnno] = uri
		}
	}
	rspec := map[string]any{
		"containers":           []any{container},
		"containerConcurrency": intOr(pred, 0, "containerConcurrency"),
		"timeoutSeconds":       intOr(pred, 300, "timeout"),
	}
	if sa := strOr(pred["serviceAccountName"]); sa != "" {
		rspec["serviceAccountName"] = sa
	}
	labels := union(isvc.GetLabels(), map[string]string{f.isvcLabel: name, "component": "predictor"})
	return map[string]any{
		"metadata": map[string]any{"labels": toAny(labels), "annotations": toAny(annotations)},
		"spec":     rspec,
	}, nil
}

func kserveModelStatus(st revState, rev, msg string) map[string]any {
	switch st {
	case revReady:
		return map[string]any{"transitionStatus": "UpToDate",
			"states": map[string]any{"activeModelState": "Loaded", "targetModelState": "Loaded"},
			"copies": map[string]any{"failedCopies": int64(0), "totalCopies": int64(1)}}
	case revFailed:
		return map[string]any{"transitionStatus": "BlockedByFailedLoad",
			"states":          map[string]any{"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
			"copies":          map[string]any{"failedCopies": int64(1), "totalCopies": int64(1)},
			"lastFailureInfo": map[string]any{"reason": "ModelLoadFailed", "message": msg, "modelRevisionName": rev, "exitCode": int64(1)}}
	default:
		return map[string]any{"transitionStatus": "InProgress",
			"states": map[string]any{"activeModelState": "Pending", "targetModelState": "Loaded"}}
	}
}

func revisionWhat(st revState, routed bool) string {
	switch st {
	case revReady:
		if routed {
			return "Ready=True Active=True"
		}
		return "Ready=True Active=False (NoTraffic)"
	case revFailed:
		return "Ready=False (ExitCode)"
	}
	return "Ready=Unknown (Deploying)"
}

// both combines two Ready triples: False wins, then Unknown, else True.
func both(a, b [3]string) [3]string {
	for _, st := range []string{"False", "Unknown"} {
		if a[0] == st {
			return a
		}
		if b[0] == st {
			return b
		}
	}
	return a
}

// filteredAnnotations are the InferenceService's annotations without kubectl's bookkeeping.
func filteredAnnotations(u *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for k, v := range u.GetAnnotations() {
		if k != "kubectl.kubernetes.io/last-applied-configuration" {
			out[k] = v
		}
	}
	return out
}

func kindOf(gvr schema.GroupVersionResource) string {
	switch gvr {
	case knServiceGVR:
		return "Service"
	case knConfigGVR:
		return "Configuration"
	case knRouteGVR:
		return "Route"
	case knRevisionGVR:
		return "Revision"
	}
	return gvr.Resource
}

// digest makes up an image digest (Knative resolves tags to digests).
func digest(image string) string {
	return fmt.Sprintf("%s@sha256:%x", image, sha256.Sum256([]byte(image)))
}

func union(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func toStrings(v any) map[string]string {
	out := map[string]string{}
	for k, x := range asMap(v) {
		out[k] = strOr(x)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
