package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// MaxFileBytes bounds hp.cfg and patch.cfg: a config larger than this is refused, not parsed.
const MaxFileBytes = 1 << 20

// FieldError names the configuration field that is wrong and why.
type FieldError struct {
	Field string // dotted path, e.g. "contract.consensus.roundtime"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// Parse decodes hp.cfg bytes. Fields absent from the file keep Default()'s values (hpnode is
// lenient where HotPocket is strict, so an older hp.cfg still starts); unknown fields and wrong
// types are errors naming the field, so a typo never silently falls back to a default.
// The result is validated.
func Parse(data []byte) (HPConfig, error) {
	cfg := Default()
	if err := decodeStrict(data, &cfg); err != nil {
		return HPConfig{}, err
	}
	if err := cfg.Validate(); err != nil {
		return HPConfig{}, err
	}
	return cfg, nil
}

// Load reads and parses the hp.cfg at path.
func Load(path string) (HPConfig, error) {
	data, err := readBounded(path)
	if err != nil {
		return HPConfig{}, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return HPConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Save writes cfg to path atomically (temp file, fsync, rename), after validating it.
func Save(path string, cfg HPConfig) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	data, err := json.MarshalIndent(cfg, "", "    ")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(data, '\n'), 0o600)
}

// WriteFileAtomic replaces path with data so that a crash leaves either the old or the new file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	// A temporary name of its own: two processes may write one file at once (a node and
	// `hpnode cluster start` both write the pid file), and a shared name let one rename the
	// other's half-written file away.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and trailing data, and
// turns encoding/json's errors into FieldErrors with dotted paths.
func decodeStrict(data []byte, v any) error {
	if len(data) > MaxFileBytes {
		return fmt.Errorf("config larger than %d bytes", MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldErr(err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func jsonFieldErr(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// encoding/json names an embedded struct by its Go type; hp.cfg shows its fields inline.
		field := strings.ReplaceAll(typeErr.Field, "PatchConfig.", "")
		return fieldErr(field, fmt.Errorf("want %s, got JSON %s", typeErr.Type, typeErr.Value))
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldErr(strings.Trim(msg, `"`), errors.New("unknown field"))
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, err)
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

// requireFields reports the first field of t (by json tag, recursively through nested structs)
// that is absent from the JSON object raw. patch.cfg is strict: a missing field is an error.
func requireFields(raw json.RawMessage, t reflect.Type, prefix string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fieldErr(strings.TrimSuffix(prefix, "."), errors.New("must be a JSON object"))
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		sub, ok := obj[name]
		if !ok {
			return fieldErr(prefix+name, errors.New("required field missing"))
		}
		if f.Type.Kind() == reflect.Struct {
			if err := requireFields(sub, f.Type, prefix+name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}
