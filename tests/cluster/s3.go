package main

// s3: the S3 server of the tests. It speaks the real S3 protocol (path-style
// buckets only: http://HOST:PORT/BUCKET/KEY) and VERIFIES AWS Signature V4 on
// every request (HMAC computed with the secret and compared; unsigned or
// wrongly signed requests get 403), so kaptain's own signer is checked by an
// independent implementation. Objects live in memory and vanish with the process.
//
// It is github.com/rclone/gofakes3 (MIT; what `rclone serve s3` is built on).
// Not MinIO: AGPL. Not upstream johannesboyne/gofakes3: it checks no signature.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

func runS3() int {
	fs := flag.NewFlagSet("s3", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:16900", "address to listen on (plain HTTP)")
	credsFile := fs.String("credentials-file", "", "KEY=VALUE lines: KAPTAIN_S3_ACCESS_KEY_ID, KAPTAIN_S3_SECRET_ACCESS_KEY (required)")
	region := fs.String("region", "us-east-1", "the region requests must be signed for")
	fs.Parse(os.Args[1:])
	logger := log.New(os.Stderr, "s3: ", log.LstdFlags)

	keyID, secret, err := readS3Credentials(*credsFile)
	if err != nil {
		logger.Print(err)
		return 2
	}
	faker := gofakes3.New(s3mem.New(),
		gofakes3.WithV4Auth(map[string]string{keyID: secret}), // time-skew limit: the default, 15 min
		gofakes3.WithHostBucket(false),                        // path-style only
		gofakes3.WithLogger(gofakes3.StdLog(logger, gofakes3.LogErr)))
	handler := logS3Requests(logger, checkRegion(*region, faker.Server()))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Print(err)
		return 1
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		logger.Print("stopping on ", <-sigs)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	logger.Printf("ready: serving http://%s (path-style, region %s, SigV4 required, in memory)", ln.Addr(), *region)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		logger.Print(err)
		return 1
	}
	return 0
}

// readS3Credentials reads the key pair from a file of KEY=VALUE lines (up's s3.env).
func readS3Credentials(path string) (keyID, secret string, err error) {
	if path == "" {
		return "", "", errors.New("--credentials-file is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch k {
		case "KAPTAIN_S3_ACCESS_KEY_ID":
			keyID = v
		case "KAPTAIN_S3_SECRET_ACCESS_KEY":
			secret = v
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if keyID == "" || secret == "" {
		return "", "", fmt.Errorf("%s: KAPTAIN_S3_ACCESS_KEY_ID and KAPTAIN_S3_SECRET_ACCESS_KEY are required", path)
	}
	return keyID, secret, nil
}

// checkRegion answers 400 AuthorizationHeaderMalformed, as AWS does, to a
// request signed for another region (gofakes3 signs with whatever region the
// credential scope names and would accept it).
func checkRegion(region string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := r.URL.Query().Get("X-Amz-Credential") // presigned URL
		if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
			scope, _, _ = strings.Cut(cred, ",")
		}
		// scope = KEYID/YYYYMMDD/REGION/s3/aws4_request
		if parts := strings.Split(scope, "/"); len(parts) >= 5 && parts[len(parts)-3] != region {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; "+
				"the region is wrong; expecting '%s'</Message><Region>%s</Region></Error>", region, region)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logS3Requests logs one line per request: method, path, status. Never the
// query (a presigned URL carries its signature there) nor any header.
func logS3Requests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Printf("%s %s %d (%d bytes in, %s)", r.Method, r.URL.EscapedPath(), sw.status,
			r.ContentLength, time.Since(start).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
