// Command katib-goptuna is Katib v0.19.0's Go suggestion service (goptuna: random, tpe,
// cmaes, sobol), REAL: the same package upstream's cmd/suggestion/goptuna/v1beta1 serves
// (github.com/kubeflow/katib/pkg/suggestion/v1beta1/goptuna), with the same gRPC
// Suggestion and Health services. Two differences, both in this main:
//   - upstream's listens on 0.0.0.0:6789, fixed, which two local clusters on one machine (and
//     any other process there) would fight over; this one listens on --listen (loopback);
//   - Katib runs one suggestion Deployment, so one service process, per Experiment, and the
//     service keeps a single study and search space (set by the first request it gets). Here
//     one process serves every Experiment of the cluster, so each Experiment (by name) gets
//     a SuggestionService of its own: shared, the first Experiment's search space answered
//     every later one, whose Trials then never came (an Experiment stuck at Created).
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"sync"

	health_pb "github.com/kubeflow/katib/pkg/apis/manager/health"
	api "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
	suggestion "github.com/kubeflow/katib/pkg/suggestion/v1beta1/goptuna"
	"google.golang.org/grpc"
)

type healthService struct{}

func (healthService) Check(context.Context, *health_pb.HealthCheckRequest) (*health_pb.HealthCheckResponse, error) {
	return &health_pb.HealthCheckResponse{Status: health_pb.HealthCheckResponse_SERVING}, nil
}

// perExperiment hands each Experiment's requests to its own SuggestionService, as Katib's
// Deployment per Experiment does.
type perExperiment struct {
	mu       sync.Mutex
	services map[string]*suggestion.SuggestionService
}

func (p *perExperiment) of(experiment *api.Experiment) *suggestion.SuggestionService {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := experiment.GetName()
	service, ok := p.services[name]
	if !ok {
		service = suggestion.NewSuggestionService()
		p.services[name] = service
		log.Printf("katib-goptuna: Experiment %s gets a suggestion service of its own (%d so far)", name, len(p.services))
	}
	return service
}

func (p *perExperiment) GetSuggestions(ctx context.Context, r *api.GetSuggestionsRequest) (*api.GetSuggestionsReply, error) {
	return p.of(r.GetExperiment()).GetSuggestions(ctx, r)
}

func (p *perExperiment) ValidateAlgorithmSettings(ctx context.Context, r *api.ValidateAlgorithmSettingsRequest) (*api.ValidateAlgorithmSettingsReply, error) {
	return p.of(r.GetExperiment()).ValidateAlgorithmSettings(ctx, r)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:16473", "address of the gRPC suggestion service")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("katib-goptuna: listen %s: %v", *listen, err)
	}
	srv := grpc.NewServer()
	api.RegisterSuggestionServer(srv, &perExperiment{services: map[string]*suggestion.SuggestionService{}})
	health_pb.RegisterHealthServer(srv, healthService{})
	log.Printf("katib-goptuna: ready: Goptuna suggestion service (Katib v0.19.0, real) on %s", *listen)
	if err := srv.Serve(l); err != nil {
		log.Fatalf("katib-goptuna: %v", err)
	}
}
