package main

// TEST DOUBLE part 2 (see simulator.go): the kubelet's log endpoint, so that
// pods/log (with follow) of kaptain's kaniko build pods works through the API
// server. kwok plays the Node and the pods' lifecycle (scheduled by the real
// kube-scheduler, run and finished by kwok's stages); the Node's
// daemonEndpoints.kubeletEndpoint.port is this endpoint's port (up passes
// the same port to kwok as --node-port).
//
//   - An HTTPS server on 127.0.0.1:--kubelet-port (0 = a free port) with an
//     in-memory self-signed certificate. kube-apiserver does not verify a
//     kubelet's serving certificate unless --kubelet-certificate-authority
//     is set (pkg/kubelet/client: no CA -> TLS.Insecure), and `up` does not
//     set it; a client certificate, if the API server sends one, is accepted
//     unchecked. It serves GET /containerLogs/{namespace}/{pod}/{container}
//     with the kubelet's query parameters (follow, timestamps, sinceTime,
//     sinceSeconds, tailLines, limitBytes, previous); nothing else (404).
//
// The log itself is made up, deterministically, from the pod: only the
// container named "kaniko" of a kaptain pod on --node-name has one
// (app.kubernetes.io/managed-by=kaptain, restartPolicy not Always),
// kaniko-like lines built from its args
// (--context, --destination, --dockerfile; never env or Secret values),
// spread from the container's start to kaptain-sim/delay-seconds after the
// pod's creation (when kwok's stages finish the pod). A line "exists" once
// its time has come: without follow the response holds the lines written so
// far; with follow it streams each line at its time (flushed) and ends when
// the pod is reported Succeeded/Failed or is gone. kaptain-sim/outcome (or
// kaptain-sim/build-outcome) Failed ends the log with kaniko's
// "error building image: ..." line. Other containers of such pods have an
// empty log (they print nothing); other pods and
// containers not in the pod get the kubelet's 404.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	kanikoContainer = "kaniko"
	// The kubelet's timestamp format for timestamps=true (pkg/kubelet/kuberuntime/logs).
	kubeletTimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"
)

// ------------------------------------------------------------------ server

// startKubelet listens on 127.0.0.1:port (0 = any free port) and serves the
// log endpoint until ctx ends; it returns the port.
func (s *simulator) startKubelet(ctx context.Context, port int) (int, error) {
	cert, err := selfSignedCert(s.node)
	if err != nil {
		return 0, fmt.Errorf("serving certificate: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", s.serveContainerLogs)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequestClientCert, // the API server's client cert, if any: accepted unchecked
			MinVersion:   tls.VersionTLS12,
		},
		// Handshake noise (e.g. a probe without TLS) must not look like a simulator error.
		ErrorLog:    log.New(s.log.Writer(), s.log.Prefix()+"kubelet http: ", s.log.Flags()),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		srv.Close() // ends streaming responses too
	}()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("kubelet double: server stopped: %v", err)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// selfSignedCert makes an ECDSA P-256 serving certificate for 127.0.0.1, in memory.
func selfSignedCert(node string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	der, _, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: node, Organization: []string{"kaptain simulator (test double)"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{node, "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}, key.Public(), nil, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// ------------------------------------------------------------------ log endpoint

type logOptions struct {
	follow, timestamps, previous bool
	since                        time.Time // zero: from the start
	tail                         int       // -1: all lines
	limit                        int64     // -1: no limit
	stream                       string    // "" / All / Stdout / Stderr (PodLogsQuerySplitStreams)
}

func parseLogOptions(q url.Values) (logOptions, error) {
	o := logOptions{tail: -1, limit: -1}
	boolean := func(name string, dst *bool) error {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", name, v)
			}
			*dst = b
		}
		return nil
	}
	for name, dst := range map[string]*bool{"follow": &o.follow, "timestamps": &o.timestamps, "previous": &o.previous} {
		if err := boolean(name, dst); err != nil {
			return o, err
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, fmt.Errorf("sinceTime: %q is not an RFC 3339 time", v)
		}
		o.since = t
	} else if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("sinceSeconds: %q is not a number of seconds > 0", v)
		}
		o.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, fmt.Errorf("tailLines: %q is not a number >= 0", v)
		}
		o.tail = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("limitBytes: %q is not a number > 0", v)
		}
		o.limit = n
	}
	o.stream = q.Get("stream")
	return o, nil
}

// serveContainerLogs is the kubelet's GET /containerLogs/{namespace}/{pod}/{container}.
func (s *simulator) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		http.NotFound(w, r)
		return
	}
	ns, name, container := parts[0], parts[1], parts[2]
	if container == "" {
		http.Error(w, `{"message": "Missing container name."}`, http.StatusBadRequest)
		return
	}
	opts, err := parseLogOptions(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	podID := ns + "/" + name
	client := "none"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		client = "CN=" + r.TLS.PeerCertificates[0].Subject.CommonName + " (accepted unchecked)"
	}
	s.once("kubelet client "+client, "kubelet double: log request %s from %s, client certificate: %s", r.URL.Path, r.RemoteAddr, client)
	pod, err := s.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && !s.plays(pod)) {
		http.Error(w, fmt.Sprintf("pod %q does not exist", podID), http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var spec *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == container {
			spec = &pod.Spec.Containers[i]
		}
	}
	if spec == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, podID), http.StatusNotFound)
		return
	}
	if opts.previous {
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, name), http.StatusBadRequest)
		return
	}
	started, finished, ok := containerTimes(pod, container)
	if !ok {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name), http.StatusBadRequest)
		return
	}

	var lines []logLine
	if container == kanikoContainer && opts.stream != "Stderr" { // kaniko logs to stdout
		lines = kanikoLog(spec, pod, started, s.planFor("Pod "+podID, string(pod.UID), buildLabels(pod.Labels)))
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	out := &logWriter{w: w, opts: opts}
	if f, ok := w.(http.Flusher); ok {
		out.flush = f.Flush
	}

	// What has been written by now (all of it once the container finished), tailLines of it.
	cutoff := func() time.Time {
		if !finished.IsZero() {
			return finished
		}
		return time.Now()
	}
	next := 0
	for next < len(lines) && !lines[next].at.After(cutoff()) {
		next++
	}
	first := 0
	if opts.tail >= 0 && next > opts.tail {
		first = next - opts.tail
	}
	if !out.write(lines[first:next]) || !opts.follow || !finished.IsZero() {
		return
	}
	// follow: each line at its time, until the container finished (the pod is
	// reported Succeeded/Failed) or the pod is gone.
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	for {
		wait := time.Hour
		if next < len(lines) {
			wait = time.Until(lines[next].at)
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-poll.C:
			timer.Stop()
			p, err := s.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && p.UID != pod.UID) {
				return // deleted: the container is gone
			}
			if err == nil {
				if _, f, ok := containerTimes(p, container); ok && !f.IsZero() {
					finished = f
				}
			}
		}
		end := next
		for end < len(lines) && !lines[end].at.After(cutoff()) {
			end++
		}
		if !out.write(lines[next:end]) {
			return
		}
		next = end
		if !finished.IsZero() {
			return // the rest (if any) was never written: the container was stopped
		}
	}
}

// plays reports whether the log endpoint serves pod's log: kaptain's run-to-completion
// pods (the build's) on the Node kwok plays.
func (s *simulator) plays(pod *corev1.Pod) bool {
	return pod.Labels[managedByLabel] == managedByValue && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways &&
		pod.Spec.NodeName == s.node
}

// containerTimes: when the container started and, if it terminated, when; ok
// is false while it has not started.
func containerTimes(pod *corev1.Pod, container string) (started, finished time.Time, ok bool) {
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != container {
			continue
		}
		switch {
		case st.State.Running != nil:
			return st.State.Running.StartedAt.Time, time.Time{}, true
		case st.State.Terminated != nil:
			return st.State.Terminated.StartedAt.Time, st.State.Terminated.FinishedAt.Time, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// logWriter writes lines as the kubelet does: optional timestamp prefix,
// sinceTime filter, limitBytes cap; flushes after each batch.
type logWriter struct {
	w       io.Writer
	flush   func()
	opts    logOptions
	written int64
}

// write returns false when the client is gone or limitBytes is reached.
func (lw *logWriter) write(lines []logLine) bool {
	for _, l := range lines {
		if !lw.opts.since.IsZero() && l.at.Before(lw.opts.since) {
			continue
		}
		text := l.text + "\n"
		if lw.opts.timestamps {
			text = l.at.UTC().Format(kubeletTimestampFormat) + " " + text
		}
		if lw.opts.limit >= 0 && lw.written+int64(len(text)) > lw.opts.limit {
			text = text[:lw.opts.limit-lw.written]
		}
		n, err := io.WriteString(lw.w, text)
		lw.written += int64(n)
		if err != nil {
			return false
		}
		if lw.opts.limit >= 0 && lw.written >= lw.opts.limit {
			lw.doFlush()
			return false
		}
	}
	lw.doFlush()
	return true
}

func (lw *logWriter) doFlush() {
	if lw.flush != nil {
		lw.flush()
	}
}

// ------------------------------------------------------------------ the made-up kaniko log

type logLine struct {
	at   time.Time
	text string
}

// kanikoLog is the whole log of a kaniko container, each line with the time
// it is written: from the container's start to kaptain-sim/delay-seconds
// after the pod's creation (the simulator reports the pod finished then).
// Deterministic for a pod: it depends only on the container's args, the
// pod's creation time, the container's start time and the kaptain-sim labels.
// The build context is not read (the simulator has no S3), so the Dockerfile
// steps are those kaptain generates (context/dockerfile.rs), not the build's own.
func kanikoLog(c *corev1.Container, pod *corev1.Pod, started time.Time, plan simPlan) []logLine {
	args := kanikoArgs(c)
	dockerfile := orDefault(args.first("dockerfile"), "Dockerfile")
	type step struct {
		at   float64 // fraction of the container's run time
		text string
	}
	steps := []step{}
	add := func(at float64, format string, a ...any) { steps = append(steps, step{at, fmt.Sprintf(format, a...)}) }
	info := func(at float64, format string, a ...any) { add(at, "INFO[%s] "+format, append([]any{""}, a...)...) }

	if bc := redactURL(args.first("context")); strings.HasPrefix(bc, "s3://") {
		info(0, "Downloading the build context from %s", bc)
		info(0.03, "Extracting the build context to /kaniko/buildcontext/")
	} else {
		info(0, "Using the build context %s", orDefault(bc, "dir:///workspace"))
	}
	info(0.06, "Retrieving image manifest of the base image (FROM in %s)", dockerfile)
	info(0.10, "Built cross stage deps: map[]")
	info(0.10, "Executing 0 build triggers")
	info(0.12, "Building stage 'FROM in %s' [idx: '0', base-idx: '-1']", dockerfile)
	info(0.15, `Unpacking rootfs as cmd RUN ["pip", "install", "--no-cache-dir", "-r", "requirements.txt"] requires it.`)
	info(0.30, "WORKDIR /app")
	info(0.30, "Cmd: workdir")
	info(0.30, "Changed working directory to /app")
	info(0.31, "Creating directory /app with uid -1 and gid -1")
	info(0.31, "Taking snapshot of files...")
	info(0.32, `COPY ["requirements.txt", "./"]`)
	info(0.33, "Taking snapshot of files...")
	info(0.35, `RUN ["pip", "install", "--no-cache-dir", "-r", "requirements.txt"]`)
	info(0.35, "Initializing snapshotter ...")
	info(0.36, "Taking snapshot of full filesystem...")
	info(0.40, "Cmd: pip")
	info(0.40, "Args: [install --no-cache-dir -r requirements.txt]")
	info(0.40, "Running: [pip install --no-cache-dir -r requirements.txt]")
	if plan.fail {
		add(1, "ERROR: No matching distribution found for a requirement (test double: label %s=Failed)", simOutcomeLabel)
		add(1, "error building image: error building stage: failed to execute command: waiting for process to exit: exit status 1")
	} else {
		add(0.55, "Successfully installed the requirements (test double)")
		info(0.70, "Taking snapshot of full filesystem...")
		info(0.75, `COPY the model's files ["./"]`)
		info(0.76, "Taking snapshot of files...")
		info(0.78, `CMD ["python", "-u", <main file>]`)
		dests := args.all("destination")
		if len(dests) == 0 {
			info(0.85, "Skipping push to container registry due to --no-push flag")
		}
		for i, d := range dests { // one image, so one digest for every destination
			at := 0.85 + 0.15*float64(i)/float64(len(dests))
			info(at, "Pushing image to %s", d)
			info(at+0.15/float64(len(dests)), "Pushed %s@sha256:%x", repository(d), sha256.Sum256([]byte("kaptain-simulator image "+dests[0])))
		}
	}

	// Times: from the container's start to the outcome; kaniko's INFO[nnnn]
	// counts whole seconds since it started.
	end := pod.CreationTimestamp.Add(plan.delay)
	if end.Before(started) {
		end = started
	}
	run := end.Sub(started)
	out := make([]logLine, len(steps))
	for i, st := range steps {
		at := started.Add(time.Duration(st.at * float64(run)))
		if st.at >= 1 {
			at = end
		}
		text := st.text
		if strings.HasPrefix(text, "INFO[] ") {
			text = fmt.Sprintf("INFO[%04d] %s", int(at.Sub(started).Seconds()), text[len("INFO[] "):])
		}
		out[i] = logLine{at: at, text: text}
	}
	return out
}

// kanikoFlags: the --name=value / --name value arguments of the container, every value by name.
type kanikoFlags map[string][]string

func (f kanikoFlags) all(name string) []string { return f[name] }

func (f kanikoFlags) first(name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func kanikoArgs(c *corev1.Container) kanikoFlags {
	f := kanikoFlags{}
	args := append(append([]string{}, c.Command...), c.Args...)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, i = args[i+1], i+1
		}
		f[name] = append(f[name], value)
	}
	return f
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// redactURL drops user info (kaniko would not print credentials).
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	u.User = nil
	return u.String()
}

// repository: an image reference without its tag or digest.
func repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// buildLabels lets kaptain-sim/build-outcome decide a build pod's outcome on its own, so
// that a train or tune run can fail after its build succeeded (or the other way round);
// kwok's stages (up) read the labels the same way.
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
