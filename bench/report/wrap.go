package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// A wrapTarget is the bound on a Wrap benchmark's speed ratio
// wrap/base.
type wrapTarget struct {
	prefix string  // benchmark key prefix
	min    float64 // least speed ratio that meets it
	text   string
}

// wrapTargets are the README's targets for Wrap over SFTP and over S3.
// Over MemMapFs the bound is on time: at most 1.5× the bare MemMapFs's, a
// speed ratio of at least 1/1.5.
var wrapTargets = []wrapTarget{
	{"WrapS3/op=SeqRead", 10, "≥ 10× (S3)"},
	{"WrapS3/op=ReadFile", 1, "≥ 1.0× (S3)"},
	{"WrapS3/op=RandRead4K", 1, "≥ 1.0× (S3)"},
	{"WrapS3/op=Write4K", 1, "≥ 1.0× (S3)"},
	{"WrapSeqRead", 10, "≥ 10×"},
	{"WrapWrite4K", 10, "≥ 10×"},
	{"WrapRandRead4K", 1, "≥ 1.0×"},
	{"WrapReadFile", 1, "≥ 1.0×"},
	{"WrapMemWarm", 1 / 1.5, "time ≤ 1.5× (≥ 0.67×)"},
}

func targetFor(key string) (wrapTarget, bool) {
	for _, t := range wrapTargets {
		if strings.HasPrefix(key, t.prefix) {
			return t, true
		}
	}
	return wrapTarget{}, false
}

// minMax returns the smallest and largest of xs.
func minMax(xs []float64) string {
	if len(xs) < 2 {
		return ""
	}
	return format(slices.Min(xs)) + "–" + format(slices.Max(xs))
}

// writeWrap writes the table of the Wrap benchmarks: each backend's median
// speed and spread, their ratio and the target it is held to.
func writeWrap(w io.Writer, h string, res map[string]map[string]result, order []string) {
	fmt.Fprintf(w, "%s aiofs.Wrap against its base\n\n", h)
	fmt.Fprintf(w, "Medians over the rounds, and the spread (min–max) of each backend's runs. Speeds in MB/s (10^6 bytes/s). ")
	fmt.Fprintf(w, "wrap/base is the ratio of the medians, **above 1 means Wrap is faster**; its range is of the rounds' paired ratios. ")
	fmt.Fprintf(w, "The target is met when the median ratio reaches it.\n\n")
	fmt.Fprintln(w, "| benchmark | unit | base | base spread | wrap | wrap spread | wrap/base | range | target | met |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|---|---|")
	for _, key := range order {
		byBackend := res[key]
		bv, unit, okB := speed(byBackend["base"])
		wv, unitW, okW := speed(byBackend["wrap"])
		if unit == "" {
			unit = unitW
		}
		cell := func(v float64, ok bool) string {
			if !ok {
				return ""
			}
			return format(v)
		}
		bs, ws := speeds(byBackend["base"], unit), speeds(byBackend["wrap"], unit)
		target, met := "", ""
		if t, ok := targetFor(key); ok {
			target = t.text
			if okB && okW {
				met = map[bool]string{true: "yes", false: "**no**"}[wv/bv >= t.min]
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join([]string{key, unit, cell(bv, okB), minMax(bs), cell(wv, okW), minMax(ws),
			ratio(wv, bv), pairedRange(ws, bs), target, met}, " | "))
	}
	fmt.Fprintln(w)
}
