package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/pipeline/spikedetect"
)

// recorder is a Registerer that keeps what is registered, so the test can
// list every metric name the binary exports (Describe), observed or not.
type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

var fqName = regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

// exportedMetrics registers what start() registers and lists the names.
func exportedMetrics(t *testing.T) map[string]bool {
	rec := &recorder{}
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pipeline.NewMetrics(rec)
	spikedetect.NewMetrics(rec)
	rec.MustRegister(pipeline.NewReadiness(pipeline.ReadinessConfig{}))
	rec.MustRegister(health.New(nil, nil))
	names := map[string]bool{}
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc, 256)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	if !names["signindiag_records_consumed_total"] || !names["signindiag_spike_active"] || !names["signindiag_ready"] {
		t.Fatalf("the registry misses known metrics: %v", names)
	}
	return names
}

// promNames picks the metric names out of a PromQL expression: the
// identifiers that start with signindiag_ (a histogram's _bucket, _sum and
// _count series belong to its name).
var promName = regexp.MustCompile(`\bsignindiag_[a-zA-Z0-9_]+`)

func metricOf(series string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if s, ok := strings.CutSuffix(series, suffix); ok {
			return s
		}
	}
	return series
}

// TestDashboardQueriesUseExportedMetrics parses the Grafana dashboard and
// the Prometheus alerting rules and checks that every metric their
// PromQL names is one signindiag exports, and that the provisioning files
// point at what exists.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/signindiag.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exprs := map[string]string{} // expr → where
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "prometheus" {
				t.Errorf("panel %q: datasource %q, want the provisioned prometheus", p.Title, tg.Datasource.UID)
			}
			exprs[tg.Expr] = "panel " + p.Title
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	mustYAML(t, "../../deploy/prometheus/alerts.yml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alert " + r.Alert
		}
	}
	used := map[string]bool{}
	for expr, where := range exprs {
		names := promName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no signindiag metric", where, expr)
		}
		for _, n := range names {
			used[metricOf(n)] = true
			if !exported[metricOf(n)] {
				t.Errorf("%s: %q uses %s, which signindiag does not export", where, expr, n)
			}
		}
	}
	// The operations views are all there.
	for _, want := range []string{"signindiag_records_consumed_total", "signindiag_stage_lag_records", "signindiag_records_deadlettered_total",
		"signindiag_flush_duration_seconds", "signindiag_findings_total", "signindiag_spike_active", "signindiag_spike_bucket_failures"} {
		if !used[want] {
			t.Errorf("no panel or alert uses %s", want)
		}
	}
	var sorted []string
	for n := range used {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	t.Logf("metrics used: %v", sorted)

	// Provisioning: the datasource uid the panels use, the dashboards path
	// compose mounts, and a scrape of signindiag.
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	mustYAML(t, "../../deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != "prometheus" || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("datasources %+v", ds)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	mustYAML(t, "../../deploy/grafana/provisioning/dashboards/signindiag.yml", &prov)
	var compose struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	mustYAML(t, "../../docker-compose.yml", &compose)
	mounted := strings.Join(compose.Services["grafana"].Volumes, " ")
	if len(prov.Providers) != 1 || !strings.Contains(mounted, "./deploy/grafana/dashboards:"+prov.Providers[0].Options.Path) ||
		!strings.Contains(mounted, "./deploy/grafana/provisioning:/etc/grafana/provisioning") {
		t.Errorf("grafana mounts %v, dashboard provider %+v", mounted, prov)
	}
	var prom struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	mustYAML(t, "../../deploy/prometheus/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || len(prom.ScrapeConfigs[0].StaticConfigs) != 1 ||
		prom.ScrapeConfigs[0].StaticConfigs[0].Targets[0] != "signindiag:8080" || compose.Services["prometheus"].Volumes == nil {
		t.Errorf("prometheus scrape %+v", prom)
	}
}

func mustYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
