// kube-audit-policy-check loads audit Policy files the way kube-apiserver
// loads --audit-policy-file (k8s.io/apiserver/pkg/audit/policy: decoding
// and the upstream validation), then decodes each once more strictly, so
// that a misspelt or repeated field is refused too. It prints one line per
// file, "PATH: accepted: N rules" or "PATH: refused: WHY", and exits 1 when
// any file is refused.
//
// Built by .ci/install-kube-audit-policy-check.sh against Debian's
// kubernetes source package; used by crates/kadet-cli/tests/it/policy.rs.
package main

import (
	"fmt"
	"io/ioutil"
	"os"

	"k8s.io/apimachinery/pkg/runtime/serializer"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
)

func load(path string, strict serializer.CodecFactory) (int, error) {
	p, err := policy.LoadPolicyFromFile(path)
	if err != nil {
		return 0, err
	}
	data, err := ioutil.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if _, _, err := strict.UniversalDecoder().Decode(data, nil, &auditinternal.Policy{}); err != nil {
		return 0, err
	}
	return len(p.Rules), nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-audit-policy-check POLICY.yaml...")
		os.Exit(2)
	}
	strict := serializer.NewCodecFactory(audit.Scheme, serializer.EnableStrict)
	refused := false
	for _, path := range os.Args[1:] {
		n, err := load(path, strict)
		if err != nil {
			fmt.Printf("%s: refused: %v\n", path, err)
			refused = true
			continue
		}
		fmt.Printf("%s: accepted: %d rules\n", path, n)
	}
	if refused {
		os.Exit(1)
	}
}
