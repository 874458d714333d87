package soak

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// pageSize is the kernel's page: pagemap has one entry per page.
const pageSize = 4096

// pagesPerMiB is how many pages a MiB of a ResidencyMap holds.
const pagesPerMiB = 1 << 20 / pageSize

// ResidencyMap is, for one anonymous mapping, how many of the pages of
// each MiB are resident (from /proc/PID/pagemap: bit 63, present). Go's
// heap is such a mapping, and its objects do not move: a MiB whose count
// rises between two maps is memory the process held already and touched
// for the first time since, such as a receive buffer a longer datagram
// reached. Needs root (CAP_SYS_ADMIN for pagemap's other bits; present
// is readable by the owner).
type ResidencyMap struct {
	Start, End uint64 // the mapping's addresses
	PerMiB     []int  // resident pages, 0 to pagesPerMiB, per MiB from Start
}

// minMappedForMap is the smallest mapping ReadResidency maps: the Go
// heap's arenas are larger, thread stacks and malloc arenas' used parts
// smaller.
const minMappedForMap = 16 << 20

// ReadResidency maps every private, writable, anonymous mapping of pid
// of minMappedForMap or more.
func ReadResidency(pid int) ([]ResidencyMap, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer maps.Close()
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	var out []ResidencyMap
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[1] != "rw-p" { // a sixth field names a file or [heap]/[stack]
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end < start+minMappedForMap {
			continue
		}
		m, err := residency(pm, start, end)
		if err != nil {
			return nil, fmt.Errorf("pagemap %s: %w", f[0], err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func residency(pm io.ReaderAt, start, end uint64) (ResidencyMap, error) {
	pages := (end - start) / pageSize
	buf := make([]byte, pages*8)
	if _, err := pm.ReadAt(buf, int64(start/pageSize*8)); err != nil {
		return ResidencyMap{}, err
	}
	m := ResidencyMap{Start: start, End: end, PerMiB: make([]int, (pages+pagesPerMiB-1)/pagesPerMiB)}
	for i := range pages {
		if binary.LittleEndian.Uint64(buf[i*8:])>>63 == 1 {
			m.PerMiB[i/pagesPerMiB]++
		}
	}
	return m, nil
}

// WriteResidency writes maps as text: per mapping a line with its range
// and resident KiB, then its MiBs' resident pages, 16 to a line.
func WriteResidency(w io.Writer, maps []ResidencyMap) error {
	bw := bufio.NewWriter(w)
	for _, m := range maps {
		total := 0
		for _, n := range m.PerMiB {
			total += n
		}
		fmt.Fprintf(bw, "mapping %x-%x: %d MiB, %d KiB resident; resident pages (of %d) per MiB:\n", m.Start, m.End, (m.End-m.Start)>>20, total*pageSize>>10, pagesPerMiB)
		for i, n := range m.PerMiB {
			fmt.Fprintf(bw, " %3d", n)
			if i%16 == 15 || i == len(m.PerMiB)-1 {
				fmt.Fprintln(bw)
			}
		}
	}
	return bw.Flush()
}
