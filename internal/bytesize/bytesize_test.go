package bytesize

import "testing"

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"100B", 100, true},
		{"4K", 4 << 10, true},
		{"4KB", 4 << 10, true},
		{"512KiB", 512 << 10, true},
		{"64MiB", 64 << 20, true},
		{"16M", 16 << 20, true},
		{" 1 GiB ", 1 << 30, true},
		{"2G", 2 << 30, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1K", 0, false},
		{"1.5GiB", 0, false},
		{"1TiB", 0, false},
	} {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
