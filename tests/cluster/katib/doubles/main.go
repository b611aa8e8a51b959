// Command katib-doubles holds the TEST DOUBLES for the parts of Katib v0.19.0
// that cannot run here, next to the real katib-controller and the real Go
// goptuna suggestion service (built by ../build from the Go module proxy):
//
//	DB manager          Katib's katib-db-manager (gRPC DBManager service), whose real
//	                    implementation needs MySQL or PostgreSQL: observation logs in memory.
//	metrics collector   the sidecar Katib injects into a trial's pod to parse its output and
//	                    report metrics: no container runs here (kwok plays the pods), so for a
//	                    trial nothing was reported for, GetObservationLog makes one value up
//	                    per metric, deterministically from the trial's and the metric's names.
//	suggestion          the suggestion services of the algorithms goptuna does not serve
//	                    (bayesianoptimization = skopt, grid/multivariate-tpe = optuna,
//	                    hyperband, ...): parameter values drawn at random from the
//	                    feasible space (seeded by the experiment's name and the request count).
//	cluster DNS + Services  Katib dials <suggestion>.<namespace>:6789 and
//	                    katib-db-manager.kubeflow:6789 by name; nothing resolves those here.
//	                    up gives katib-controller HTTPS_PROXY=http://<--proxy-listen>, which
//	                    grpc-go honours by sending the unresolved name in an HTTP CONNECT
//	                    (gRFC A1); this proxy maps the name to a loopback address: the DB
//	                    manager double, the goptuna service for random/tpe/cmaes/sobol, the
//	                    suggestion double for every other algorithm.
//
// Every request is logged as one line on stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	api "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
	"google.golang.org/grpc"
)

var logger = log.New(os.Stderr, "katib-doubles: ", log.LstdFlags|log.Lmicroseconds|log.LUTC)

func main() {
	dbListen := flag.String("db-listen", "127.0.0.1:16789", "DB manager double (gRPC)")
	sugListen := flag.String("suggestion-listen", "127.0.0.1:16790", "suggestion double (gRPC)")
	proxyListen := flag.String("proxy-listen", "127.0.0.1:16791", "HTTP CONNECT proxy standing in for cluster DNS + Services")
	goptuna := flag.String("goptuna", "127.0.0.1:16792", "address of the real goptuna suggestion service")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	db := grpc.NewServer()
	api.RegisterDBManagerServer(db, &dbManager{logs: map[string][]*api.MetricLog{}})
	sug := grpc.NewServer()
	api.RegisterSuggestionServer(sug, &suggestion{})
	proxy := &http.Server{Handler: &connectProxy{db: *dbListen, goptuna: *goptuna, suggestion: *sugListen}}

	errs := make(chan error, 3)
	for _, s := range []struct {
		addr  string
		serve func(net.Listener) error
	}{{*dbListen, db.Serve}, {*sugListen, sug.Serve}, {*proxyListen, proxy.Serve}} {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			logger.Printf("ERROR: listen %s: %v", s.addr, err)
			os.Exit(1)
		}
		go func(serve func(net.Listener) error) { errs <- serve(l) }(s.serve)
	}
	logger.Printf("ready: DB manager + metrics collector double on %s, suggestion double on %s, DNS/Service proxy on %s (goptuna at %s)",
		*dbListen, *sugListen, *proxyListen, *goptuna)
	select {
	case <-ctx.Done():
		logger.Printf("stopping")
	case err := <-errs:
		logger.Printf("ERROR: %v", err)
		os.Exit(1)
	}
	db.Stop()
	sug.Stop()
	proxy.Close()
}

// ------------------------------------------------------------------ DB manager + metrics collector

type dbManager struct {
	api.UnimplementedDBManagerServer
	mu   sync.Mutex
	logs map[string][]*api.MetricLog // by trial name
}

func (d *dbManager) ReportObservationLog(_ context.Context, r *api.ReportObservationLogRequest) (*api.ReportObservationLogReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logs[r.TrialName] = append(d.logs[r.TrialName], r.GetObservationLog().GetMetricLogs()...)
	logger.Printf("db: ReportObservationLog %s: %d metric logs", r.TrialName, len(r.GetObservationLog().GetMetricLogs()))
	return &api.ReportObservationLogReply{}, nil
}

func (d *dbManager) GetObservationLog(_ context.Context, r *api.GetObservationLogRequest) (*api.GetObservationLogReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*api.MetricLog
	for _, l := range d.logs[r.TrialName] {
		if r.MetricName == "" || l.GetMetric().GetName() == r.MetricName {
			out = append(out, l)
		}
	}
	what := "reported"
	if len(out) == 0 && r.MetricName != "" {
		// The metrics collector's part: one made-up value in [0.5, 1), stored so that
		// a second question gets the same answer.
		v := 0.5 + float64(hash(r.TrialName+"/"+r.MetricName)%5000)/10000
		l := &api.MetricLog{TimeStamp: time.Now().UTC().Format(time.RFC3339),
			Metric: &api.Metric{Name: r.MetricName, Value: strconv.FormatFloat(v, 'f', 4, 64)}}
		d.logs[r.TrialName] = append(d.logs[r.TrialName], l)
		out, what = []*api.MetricLog{l}, "made up (metrics collector double)"
	}
	logger.Printf("db: GetObservationLog %s metric %q: %d logs, %s", r.TrialName, r.MetricName, len(out), what)
	return &api.GetObservationLogReply{ObservationLog: &api.ObservationLog{MetricLogs: out}}, nil
}

func (d *dbManager) DeleteObservationLog(_ context.Context, r *api.DeleteObservationLogRequest) (*api.DeleteObservationLogReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.logs, r.TrialName)
	logger.Printf("db: DeleteObservationLog %s", r.TrialName)
	return &api.DeleteObservationLogReply{}, nil
}

// ------------------------------------------------------------------ suggestion

type suggestion struct {
	api.UnimplementedSuggestionServer
}

func (suggestion) ValidateAlgorithmSettings(_ context.Context, r *api.ValidateAlgorithmSettingsRequest) (*api.ValidateAlgorithmSettingsReply, error) {
	logger.Printf("suggestion: ValidateAlgorithmSettings %s (%s): accepted", r.GetExperiment().GetName(),
		r.GetExperiment().GetSpec().GetAlgorithm().GetAlgorithmName())
	return &api.ValidateAlgorithmSettingsReply{}, nil
}

func (suggestion) GetSuggestions(_ context.Context, r *api.GetSuggestionsRequest) (*api.GetSuggestionsReply, error) {
	exp := r.GetExperiment()
	rng := rand.New(rand.NewSource(int64(hash(fmt.Sprintf("%s/%d", exp.GetName(), r.TotalRequestNumber)))))
	reply := &api.GetSuggestionsReply{}
	for i := int32(0); i < r.CurrentRequestNumber; i++ {
		var as []*api.ParameterAssignment
		for _, p := range exp.GetSpec().GetParameterSpecs().GetParameters() {
			as = append(as, &api.ParameterAssignment{Name: p.Name, Value: draw(rng, p)})
		}
		reply.ParameterAssignments = append(reply.ParameterAssignments, &api.GetSuggestionsReply_ParameterAssignments{Assignments: as})
	}
	logger.Printf("suggestion: GetSuggestions %s (%s): %d assignments (drawn at random: test double)", exp.GetName(),
		exp.GetSpec().GetAlgorithm().GetAlgorithmName(), r.CurrentRequestNumber)
	return reply, nil
}

func draw(rng *rand.Rand, p *api.ParameterSpec) string {
	fs := p.GetFeasibleSpace()
	switch p.ParameterType {
	case api.ParameterType_DISCRETE, api.ParameterType_CATEGORICAL:
		if len(fs.List) == 0 {
			return ""
		}
		return fs.List[rng.Intn(len(fs.List))]
	case api.ParameterType_INT:
		lo, _ := strconv.ParseInt(fs.Min, 10, 64)
		hi, _ := strconv.ParseInt(fs.Max, 10, 64)
		step, _ := strconv.ParseInt(fs.Step, 10, 64)
		if step <= 0 {
			step = 1
		}
		if hi < lo {
			return fs.Min
		}
		return strconv.FormatInt(lo+step*rng.Int63n((hi-lo)/step+1), 10)
	default:
		lo, _ := strconv.ParseFloat(fs.Min, 64)
		hi, _ := strconv.ParseFloat(fs.Max, 64)
		if step, err := strconv.ParseFloat(fs.Step, 64); err == nil && step > 0 && hi >= lo {
			return strconv.FormatFloat(lo+step*float64(rng.Int63n(int64((hi-lo)/step)+1)), 'g', -1, 64)
		}
		return strconv.FormatFloat(lo+rng.Float64()*(hi-lo), 'g', -1, 64)
	}
}

// ------------------------------------------------------------------ cluster DNS + Services

var goptunaAlgorithms = []string{"random", "tpe", "cmaes", "sobol"}

type connectProxy struct{ db, goptuna, suggestion string }

// target maps a Service address as Katib dials it to a loopback address.
func (p *connectProxy) target(hostport string) (string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", "not host:port"
	}
	service := strings.SplitN(host, ".", 2)[0]
	switch {
	case service == "katib-db-manager":
		return p.db, "DB manager double"
	case port != "6789":
		return "", "no such Service port here (suggestions and the DB manager serve 6789)"
	}
	for _, a := range goptunaAlgorithms {
		if strings.HasSuffix(service, "-"+a) {
			return p.goptuna, "goptuna (real) for " + a
		}
	}
	return p.suggestion, "suggestion double"
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	to, what := p.target(r.Host)
	if to == "" {
		logger.Printf("proxy: CONNECT %s refused: %s", r.Host, what)
		http.Error(w, what, http.StatusBadGateway)
		return
	}
	up, err := net.DialTimeout("tcp", to, 5*time.Second)
	if err != nil {
		logger.Printf("proxy: CONNECT %s -> %s (%s): %v", r.Host, to, what, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	logger.Printf("proxy: CONNECT %s -> %s (%s)", r.Host, to, what)
	down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { relay(up, buf.Reader); up.(*net.TCPConn).CloseWrite() }()
	relay(down, up)
	down.Close()
	up.Close()
}

func relay(dst io.Writer, src io.Reader) { _, _ = io.Copy(dst, src) }

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
