package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDefaultLoads(t *testing.T) {
	r := Default()
	if r.Source() != "built-in registry data" {
		t.Errorf("Source() = %q", r.Source())
	}
	for name, n := range map[string]int{
		"bodies": len(r.bodies), "fda": len(r.fda), "510k": len(r.k510), "eua": len(r.eua),
		"niosh": len(r.niosh), "nmpa": len(r.nmpa), "producers": len(r.producers), "exporters": len(r.exporters),
	} {
		if n == 0 {
			t.Errorf("no %s records loaded", name)
		}
	}
}

func TestNotifiedBodies(t *testing.T) {
	ctx := context.Background()
	r := Default()
	on := day("2026-06-01")
	tests := []struct {
		number string
		reg    string
		on     time.Time
		want   bool
	}{
		{"0123", RegulationMDR, on, true},
		{"0123", RegulationIVDR, on, true},
		{"0123", RegulationPPE, on, true},
		{"0197", RegulationPPE, on, true},
		{"0197", RegulationIVDR, on, false},
		{"2797", RegulationIVDR, on, true},
		{"0459", RegulationPPE, on, false},
		// The 2020 case: a machinery body's mask "certificates" are not PPE certificates.
		{"1282", RegulationPPE, on, false},
		{"1282", RegulationMDR, on, false},
		{"1282", RegulationMachinery, on, true},
		// BSI UK was notified until the UK left the system at the end of 2020.
		{"0086", RegulationMDR, day("2020-06-01"), true},
		{"0086", RegulationPPE, day("2020-12-31"), true},
		{"0086", RegulationMDR, day("2021-01-01"), false},
	}
	for _, tt := range tests {
		b, found, err := r.NotifiedBody(ctx, tt.number)
		if err != nil || !found {
			t.Fatalf("NotifiedBody(%s) = found %v, err %v", tt.number, found, err)
		}
		if got := b.NotifiedFor(tt.reg, tt.on); got != tt.want {
			t.Errorf("%s (%s).NotifiedFor(%s, %s) = %v, want %v", tt.number, b.Name, tt.reg,
				tt.on.Format("2006-01-02"), got, tt.want)
		}
	}
	if _, found, _ := r.NotifiedBody(ctx, "9999"); found {
		t.Error("NotifiedBody(9999) found a body that is not on file")
	}
	b, _, _ := r.NotifiedBody(ctx, "0086")
	if regs := b.RegulationsOn(day("2021-06-01")); len(regs) != 0 {
		t.Errorf("0086 RegulationsOn 2021 = %v, want none", regs)
	}
}

func TestLookups(t *testing.T) {
	ctx := context.Background()
	r := Default()

	est, found, err := r.FDAEstablishment(ctx, "3016541287")
	if err != nil || !found || !SameName(est.Firm, "NINGBO KANGRUN MEDICAL INSTRUMENTS CO LTD") {
		t.Errorf("FDAEstablishment = %+v, %v, %v", est, found, err)
	}
	k, found, _ := r.Clearance510K(ctx, " k192873 ")
	if !found || k.Category != "nasal-cannula" || k.ProductCode != "CAT" {
		t.Errorf("Clearance510K(k192873) = %+v, %v", k, found)
	}
	if _, found, _ := r.Clearance510K(ctx, "K000000"); found {
		t.Error("Clearance510K(K000000) found")
	}
	e, found, _ := r.EUA(ctx, "EUA200188")
	if !found || e.Revoked.IsZero() {
		t.Errorf("EUA(EUA200188) = %+v, %v; want a revoked authorization", e, found)
	}
	a, found, _ := r.NIOSHApproval(ctx, "TC-84A-9231")
	if !found || a.Class != "N95" || !a.Revoked.IsZero() {
		t.Errorf("NIOSHApproval(TC-84A-9231) = %+v, %v", a, found)
	}
}

func TestNMPARegistration(t *testing.T) {
	ctx := context.Background()
	r := Default()
	for _, n := range []string{"国械注准20203400176", "国械注准20203400176号", "NMPA-20203400176"} {
		reg, found, err := r.NMPARegistration(ctx, n)
		if err != nil || !found {
			t.Fatalf("NMPARegistration(%q) not found (err %v)", n, err)
		}
		if reg.Category != "test-kit" || !reg.HeldBy("杭州联博生物技术有限公司") || !reg.HeldBy("hangzhou lianbo biotech co ltd") {
			t.Errorf("NMPARegistration(%q) = %+v", n, reg)
		}
		if reg.ASCII() != "NMPA-20203400176" {
			t.Errorf("ASCII() = %q", reg.ASCII())
		}
	}
	// The same digits under another authority are another registration.
	if _, found, _ := r.NMPARegistration(ctx, "浙械注准20203400176"); found {
		t.Error("a provincial number with a national registration's digits was found")
	}
	if _, found, _ := r.NMPARegistration(ctx, "NMPA-2020340017"); found {
		t.Error("a ten-digit number was found")
	}
}

func TestQualifiedProducer(t *testing.T) {
	ctx := context.Background()
	r := Default()
	for _, q := range []string{"91330206MA2H3D8P5K", "ningbo yongjia protective equipment co ltd",
		"Ningbo Yongjia Protective Equipment Co., Ltd.", "宁波永佳防护用品有限公司"} {
		p, found, err := r.QualifiedProducer(ctx, q)
		if err != nil || !found || p.Code != "91330206MA2H3D8P5K" {
			t.Errorf("QualifiedProducer(%q) = %+v, %v, %v", q, p, found, err)
		}
	}
	p, found, _ := r.QualifiedProducer(ctx, "Wenzhou Lida Medical Supplies Co., Ltd.")
	if !found || p.ListedOn(day("2020-07-01")) || !p.ListedOn(day("2020-05-01")) {
		t.Errorf("Wenzhou Lida = %+v, %v; want listed in May 2020 and delisted by July", p, found)
	}
	if _, found, _ := r.QualifiedProducer(ctx, "Ningbo Unknown Mask Factory"); found {
		t.Error("an unlisted producer was found")
	}
	if _, found, _ := r.QualifiedProducer(ctx, " .,"); found {
		t.Error("a name of punctuation found a producer")
	}
}

func TestExporterRecord(t *testing.T) {
	ctx := context.Background()
	r := Default()
	e, found, err := r.ExporterRecord(ctx, "4201960355")
	if err != nil || !found || e.PriorRefusals != 3 {
		t.Errorf("ExporterRecord(4201960355) = %+v, %v, %v", e, found, err)
	}
	e, found, _ = r.ExporterRecord(ctx, "4419960888")
	if !found || e.Rating != RatingDiscredited {
		t.Errorf("ExporterRecord(4419960888) = %+v, %v", e, found)
	}
	if _, found, _ := r.ExporterRecord(ctx, "4419960731"); found {
		t.Error("a new exporter has a record")
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		good []string
		bad  []string
	}{
		{"notified body", IsNotifiedBodyNumber, []string{"0123", "2797"}, []string{"123", "01234", "CE0123", ""}},
		{"FDA registration", IsFDARegistrationNumber, []string{"3016541287", "1234567"}, []string{"301654128", "30165412870", "3016-541287"}},
		{"510(k)", Is510KNumber, []string{"K192873"}, []string{"K19287", "k192873", "K1928734", "DEN192873"}},
		{"EUA", IsEUANumber, []string{"EUA200431"}, []string{"EUA20043", "EUA-200431"}},
		{"NIOSH", IsNIOSHNumber, []string{"TC-84A-9231"}, []string{"TC-84A-923", "TC84A9231", "TC-21C-1234"}},
		{"NMPA", IsNMPANumber, []string{"国械注准20203400176", "浙械注准20202140455", "国械注进20173664321", "NMPA-20203400176"},
			[]string{"国械注准2020340017", "械注准20203400176", "NMPA20203400176", "国械注准20204400176", "浙甬械备20200012号"}},
		{"exporter code", IsExporterCode, []string{"3302960178", "33029601AB"}, []string{"330296017", "3302-96017"}},
		{"credit code", IsCreditCode, []string{"91330212MA2CK7QX4N"}, []string{"91330212MA2CK7QX4", "91330212MA2CK7QX4O"}},
	}
	for _, tt := range tests {
		for _, s := range tt.good {
			if !tt.fn(s) {
				t.Errorf("%s: %q rejected", tt.name, s)
			}
		}
		for _, s := range tt.bad {
			if tt.fn(s) {
				t.Errorf("%s: %q accepted", tt.name, s)
			}
		}
	}
}

func TestSameName(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Ningbo Kangrun Medical Instruments Co., Ltd.", "NINGBO KANGRUN MEDICAL INSTRUMENTS CO LTD", true},
		{"Ningbo Kangrun Medical Instruments Co., Ltd.", "Ningbo-Kangrun Medical Instruments Co. Ltd", true},
		{"宁波康润医疗器械有限公司", "宁波康润医疗器械 有限公司", true},
		{"Ningbo Kangrun Medical Instruments Co., Ltd.", "Ningbo Kangrun Medical Co., Ltd.", false},
		{"", "", false},
		{"...", "--", false},
	}
	for _, tt := range tests {
		if got := SameName(tt.a, tt.b); got != tt.want {
			t.Errorf("SameName(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// copyData copies the built-in data into a new directory and returns it.
func copyData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range Files {
		b, err := builtin.ReadFile("data/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDirOverrides(t *testing.T) {
	dir := copyData(t)
	// A deployment's own list: here 1282 loses its only designation and a new body appears.
	bodies := `[{"number": "2862", "name": "Example Certification Body", "country": "PL",
		"designations": [{"regulation": "PPE", "from": "2021-01-01T00:00:00Z"}]}]`
	if err := os.WriteFile(filepath.Join(dir, FileNotifiedBodies), []byte(bodies), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source() != dir {
		t.Errorf("Source() = %q, want %q", r.Source(), dir)
	}
	ctx := context.Background()
	if _, found, _ := r.NotifiedBody(ctx, "0123"); found {
		t.Error("the override kept a built-in body")
	}
	b, found, _ := r.NotifiedBody(ctx, "2862")
	if !found || b.NotifiedFor(RegulationPPE, day("2020-06-01")) || !b.NotifiedFor(RegulationPPE, day("2021-06-01")) {
		t.Errorf("override body = %+v, %v", b, found)
	}
	if _, found, _ := r.ExporterRecord(ctx, "3302960178"); !found {
		t.Error("the other files of the directory were not loaded")
	}
}

func TestLoadDirErrors(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		if _, err := LoadDir(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("missing file", func(t *testing.T) {
		dir := copyData(t)
		if err := os.Remove(filepath.Join(dir, FileExporters)); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDir(dir)
		if err == nil || !strings.Contains(err.Error(), FileExporters) {
			t.Fatalf("err = %v, want one naming %s", err, FileExporters)
		}
	})
	t.Run("invalid records", func(t *testing.T) {
		dir := copyData(t)
		bad := `[{"number": "K12345", "device": "x", "productCode": "cat", "category": "widgets", "holder": "y", "decided": "2020-01-01T00:00:00Z"},
			{"number": "K192873", "device": "a", "productCode": "CAT", "category": "nasal-cannula", "holder": "h", "decided": "2020-01-01T00:00:00Z"},
			{"number": "K192873", "device": "b", "productCode": "CAT", "category": "nasal-cannula", "holder": "h", "decided": "2020-01-01T00:00:00Z"}]`
		if err := os.WriteFile(filepath.Join(dir, FileFDA510K), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDir(dir)
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"fda-510k.json[0]: number", "productCode", `"widgets" is not a product category`, "fda-510k.json[2]: K192873 appears twice"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		dir := copyData(t)
		if err := os.WriteFile(filepath.Join(dir, FileExporters), []byte(`[{"code": "3302960178", "nmae": "x"}]`), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "nmae") {
			t.Fatalf("err = %v, want the unknown field named", err)
		}
	})
}
