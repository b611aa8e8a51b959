// Command katib-goptuna is Katib v0.19.0's Go suggestion service (goptuna: random, tpe,
// cmaes, sobol), REAL: the same package upstream's cmd/suggestion/goptuna/v1beta1 serves
// (github.com/kubeflow/katib/pkg/suggestion/v1beta1/goptuna), with the same gRPC
// Suggestion and Health services. The one difference is this main: upstream's listens on
// 0.0.0.0:6789, fixed, which two local clusters on one machine (and any other process
// there) would fight over; this one listens on --listen (loopback).
package main

import (
	"context"
	"flag"
	"log"
	"net"

	health_pb "github.com/kubeflow/katib/pkg/apis/manager/health"
	api "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
	suggestion "github.com/kubeflow/katib/pkg/suggestion/v1beta1/goptuna"
	"google.golang.org/grpc"
)

type healthService struct{}

func (healthService) Check(context.Context, *health_pb.HealthCheckRequest) (*health_pb.HealthCheckResponse, error) {
	return &health_pb.HealthCheckResponse{Status: health_pb.HealthCheckResponse_SERVING}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:16473", "address of the gRPC suggestion service")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("katib-goptuna: listen %s: %v", *listen, err)
	}
	srv := grpc.NewServer()
	api.RegisterSuggestionServer(srv, suggestion.NewSuggestionService())
	health_pb.RegisterHealthServer(srv, healthService{})
	log.Printf("katib-goptuna: ready: Goptuna suggestion service (Katib v0.19.0, real) on %s", *listen)
	if err := srv.Serve(l); err != nil {
		log.Fatalf("katib-goptuna: %v", err)
	}
}
