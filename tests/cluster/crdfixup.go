package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// runCRDFixup copies CRD manifests into --out for installation, changing only
// what current API servers reject in otherwise valid older upstream CRDs:
//
//   - a key of an x-kubernetes-list-type=map list that has no default and is
//     not required ("must have a default or be a required property", enforced
//     since Kubernetes 1.18 for apiextensions.k8s.io/v1). Only the case seen in
//     practice is fixed: the `protocol` key of container `ports`, which gets
//     `default: TCP`, the default Kubernetes core/v1 itself applies and which
//     newer controller-gen versions write into the same CRDs (e.g. KServe
//     v0.19's serving.kserve.io CRD).
//
// Files needing no change are copied byte for byte; changed files are written
// as JSON (same name). Every change is reported on stderr.
func runCRDFixup() int {
	fs := flag.NewFlagSet("crd-fixup", flag.ExitOnError)
	out := fs.String("out", "", "output directory (required)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: crd-fixup --out DIR FILE|DIR...")
		fs.PrintDefaults()
	}
	fs.Parse(os.Args[1:])
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "crd-fixup:", err)
		return 1
	}
	var files []string
	for _, arg := range fs.Args() {
		st, err := os.Stat(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crd-fixup:", err)
			return 1
		}
		if !st.IsDir() {
			files = append(files, arg)
			continue
		}
		for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
			m, _ := filepath.Glob(filepath.Join(arg, ext))
			files = append(files, m...)
		}
	}
	for _, f := range files {
		if err := fixupFile(f, *out); err != nil {
			fmt.Fprintf(os.Stderr, "crd-fixup: %s: %v\n", f, err)
			return 1
		}
	}
	return 0
}

func fixupFile(path, outDir string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var docs []map[string]interface{}
	var changes []string
	for {
		var doc map[string]interface{}
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if doc == nil {
			continue
		}
		changes = append(changes, fixupSchema(doc, "")...)
		docs = append(docs, doc)
	}
	sort.Strings(changes)
	dst := filepath.Join(outDir, filepath.Base(path))
	if len(changes) == 0 {
		return os.WriteFile(dst, raw, 0o644)
	}
	var buf bytes.Buffer
	for _, doc := range docs {
		// One JSON object per YAML document.
		j, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(y)
	}
	fmt.Fprintf(os.Stderr, "crd-fixup: %s: added `default: TCP` to %d list-map key(s) `protocol` (not required, no default):\n", filepath.Base(path), len(changes))
	for _, c := range changes {
		fmt.Fprintf(os.Stderr, "  %s\n", c)
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// fixupSchema walks any JSON value; where it finds a list-map schema whose
// `protocol` key is neither required nor defaulted, it sets default TCP.
func fixupSchema(v interface{}, at string) []string {
	var changes []string
	switch n := v.(type) {
	case map[string]interface{}:
		if n["x-kubernetes-list-type"] == "map" {
			keys, _ := n["x-kubernetes-list-map-keys"].([]interface{})
			items, _ := n["items"].(map[string]interface{})
			props, _ := items["properties"].(map[string]interface{})
			required := map[string]bool{}
			if req, ok := items["required"].([]interface{}); ok {
				for _, r := range req {
					if s, ok := r.(string); ok {
						required[s] = true
					}
				}
			}
			for _, k := range keys {
				key, _ := k.(string)
				prop, _ := props[key].(map[string]interface{})
				if key != "protocol" || prop == nil || required[key] || prop["type"] != "string" {
					continue
				}
				if _, has := prop["default"]; !has {
					prop["default"] = "TCP"
					changes = append(changes, at+".items.properties.protocol")
				}
			}
		}
		for k, child := range n {
			changes = append(changes, fixupSchema(child, at+"."+k)...)
		}
	case []interface{}:
		for i, child := range n {
			changes = append(changes, fixupSchema(child, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return changes
}
