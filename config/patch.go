package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// PatchConfig is patch.cfg: the contract section minus id, execute, run_as and log (reference
// §5.2). Its file hash is voted on in every round, so every node must hold identical bytes.
type PatchConfig struct {
	Version              string            `json:"version"`
	UNL                  []string          `json:"unl"`
	BinPath              string            `json:"bin_path"`
	BinArgs              string            `json:"bin_args"`
	Environment          map[string]string `json:"environment"`
	MaxInputLedgerOffset uint16            `json:"max_input_ledger_offset"`
	Consensus            ConsensusCfg      `json:"consensus"`
	NPL                  NPL               `json:"npl"`
	RoundLimits          RoundLimits       `json:"round_limits"`
}

// Patch returns a copy of the patch.cfg part of the contract section.
func (c *Contract) Patch() PatchConfig {
	p := c.PatchConfig
	p.UNL = slices.Clone(p.UNL)
	p.Environment = cloneMap(p.Environment)
	return p
}

// ApplyPatch replaces the patch.cfg part of the contract section (how an agreed patch.cfg reaches
// hp.cfg).
func (c *Contract) ApplyPatch(p PatchConfig) {
	c.PatchConfig = p
	c.UNL = slices.Clone(p.UNL)
	c.Environment = cloneMap(p.Environment)
}

// Validate checks the ranges HotPocket checks (reference §5.1), plus a well-formed, duplicate-free UNL.
func (p *PatchConfig) Validate() error {
	if p.Version == "" {
		return fieldErr("version", errors.New("required, non-empty"))
	}
	if len(p.UNL) == 0 {
		return fieldErr("unl", errors.New("must list at least one node key"))
	}
	seen := make(map[string]bool, len(p.UNL))
	for i, k := range p.UNL {
		pub, err := ParsePublicKey(k)
		if err != nil {
			return fieldErr(fmt.Sprintf("unl[%d]", i), err)
		}
		norm := EncodeKey(pub)
		if seen[norm] {
			return fieldErr(fmt.Sprintf("unl[%d]", i), fmt.Errorf("duplicate key %s", k))
		}
		seen[norm] = true
	}
	if p.BinPath == "" {
		return fieldErr("bin_path", errors.New("required"))
	}
	if err := oneOf("consensus.mode", p.Consensus.Mode, "public", "private"); err != nil {
		return err
	}
	if p.Consensus.RoundTime < 1 || p.Consensus.RoundTime > 3_600_000 {
		return fieldErr("consensus.roundtime", fmt.Errorf("%d ms is outside 1..3600000", p.Consensus.RoundTime))
	}
	if p.Consensus.StageSlice < 1 || p.Consensus.StageSlice > 33 {
		return fieldErr("consensus.stage_slice", fmt.Errorf("%d%% is outside 1..33", p.Consensus.StageSlice))
	}
	if p.Consensus.Threshold < 1 || p.Consensus.Threshold > 100 {
		return fieldErr("consensus.threshold", fmt.Errorf("%d%% is outside 1..100", p.Consensus.Threshold))
	}
	if err := oneOf("npl.mode", p.NPL.Mode, "public", "private"); err != nil {
		return err
	}
	for k := range p.Environment {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fieldErr("environment", fmt.Errorf("invalid variable name %q", k))
		}
	}
	return nil
}

// Canonical returns the bytes hpnode writes as patch.cfg: 4-space indented JSON, the UNL in its
// normalized form ("ed" + lowercase hex), map keys sorted, one trailing newline. Every node derives
// the same bytes from the same fields, so a fresh cluster agrees on the patch hash at once.
func (p PatchConfig) Canonical() ([]byte, error) {
	q := p
	q.UNL = make([]string, len(p.UNL))
	for i, k := range p.UNL {
		pub, err := ParsePublicKey(k)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("unl[%d]", i), err)
		}
		q.UNL[i] = EncodeKey(pub)
	}
	if q.Environment == nil {
		q.Environment = map[string]string{}
	}
	data, err := json.MarshalIndent(q, "", "    ")
	if err != nil {
		return nil, fmt.Errorf("encode patch.cfg: %w", err)
	}
	return append(data, '\n'), nil
}

// ParsePatch parses patch.cfg strictly, as HotPocket does: every field is required, unknown
// fields and out-of-range values are errors naming the field. A contract that writes a broken
// patch.cfg gets this error; the running configuration is left unchanged.
func ParsePatch(data []byte) (PatchConfig, error) {
	if len(data) > MaxFileBytes {
		return PatchConfig{}, fmt.Errorf("patch.cfg larger than %d bytes", MaxFileBytes)
	}
	if err := requireFields(data, reflect.TypeFor[PatchConfig](), ""); err != nil {
		return PatchConfig{}, fmt.Errorf("patch.cfg: %w", err)
	}
	var p PatchConfig
	if err := decodeStrict(data, &p); err != nil {
		return PatchConfig{}, fmt.Errorf("patch.cfg: %w", err)
	}
	if err := p.Validate(); err != nil {
		return PatchConfig{}, fmt.Errorf("patch.cfg: %w", err)
	}
	return p, nil
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
