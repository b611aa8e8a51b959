// Command kaptain-cluster is one multi-call binary holding the pieces of a
// local Kubernetes control plane for kaptain's integration tests, all built
// from the official Go modules (see README.md):
//
//	etcd                     embedded etcd server (go.etcd.io/etcd/server/v3/embed)
//	kube-apiserver           k8s.io/kubernetes/cmd/kube-apiserver/app
//	kube-controller-manager  k8s.io/kubernetes/cmd/kube-controller-manager/app
//	kube-scheduler           k8s.io/kubernetes/cmd/kube-scheduler/app
//	kubectl                  k8s.io/kubectl/pkg/cmd
//	pki                      writes the certificates, keys and kubeconfig the others use
//	webhook-cert             a CA and a loopback serving cert for the operators' webhooks (webhookcert.go)
//	crd-fixup                copies CRDs for installation, fixing what current API servers reject (crdfixup.go)
//	simulator                TEST DOUBLE for the Kubeflow training operator, Katib, KFServing/KServe,
//	                         Knative Serving and the kubelet (simulator*.go)
//	s3                       S3 server: in memory, path-style, SigV4 verified (s3.go, rclone/gofakes3)
//
// The tool is chosen by the name the binary is called by (argv[0], e.g. a
// symlink named kubectl) or, failing that, by the first argument.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones, as in the upstream mains

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream

	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's client auth plugins, as upstream
)

var tools = map[string]func() int{
	"etcd":                    runEtcd,
	"kube-apiserver":          runAPIServer,
	"kube-controller-manager": runControllerManager,
	"kube-scheduler":          runScheduler,
	"kubectl":                 runKubectl,
	"pki":                     runPKI,
	"webhook-cert":            runWebhookCert,
	"crd-fixup":               runCRDFixup,
	"simulator":               runSimulator,
	"s3":                      runS3,
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := tools[name]; !ok && len(os.Args) > 1 {
		if _, ok := tools[os.Args[1]]; ok {
			// "kaptain-cluster kubectl get pods": make the tool see the
			// arguments exactly as if it had been called as "kubectl get pods".
			name = os.Args[1]
			os.Args = append([]string{name}, os.Args[2:]...)
		}
	}
	run, ok := tools[name]
	if !ok {
		names := make([]string, 0, len(tools))
		for n := range tools {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: %s {%s} [args...]\n  (or call it through a symlink named after the tool)\n",
			filepath.Base(os.Args[0]), strings.Join(names, "|"))
		os.Exit(2)
	}
	os.Exit(run())
}

func runAPIServer() int {
	return cli.Run(apiserver.NewAPIServerCommand())
}

func runControllerManager() int {
	return cli.Run(controllermanager.NewControllerManagerCommand())
}

func runScheduler() int {
	return cli.Run(scheduler.NewSchedulerCommand())
}

// runKubectl is cmd/kubectl/kubectl.go of k8s.io/kubernetes.
func runKubectl() int {
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err) // prints the error and exits non-zero
	}
	return 0
}
