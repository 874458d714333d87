package main

import (
	"cmp"
	"net/http"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
)

// configuredAttachment is what show reports of an attachment while it is
// down: the configuration's view.
type configuredAttachment struct {
	name, vrf, kind string
	remote          netip.Addr
	site, local     []netip.Prefix
	pool, pool6     config.AddrPool // kind: pool
}

// configuredAttachments lists cfg's attachments; they change only with a
// restart (reload refuses a change).
func configuredAttachments(cfg *config.Config) []configuredAttachment {
	var out []configuredAttachment
	for _, v := range cfg.VRFs {
		for _, a := range v.IPsecAttachments {
			out = append(out, configuredAttachment{name: a.Name, vrf: v.Name, kind: a.Kind, remote: a.IKE.RemoteAddress,
				site: a.SitePrefixes, local: a.LocalPrefixes, pool: a.Pool, pool6: a.Pool6})
		}
	}
	return out
}

func (a *apiServer) ipsecAttachments(w http.ResponseWriter, _ *http.Request) {
	if dp := a.withDataplane(w); dp != nil {
		writeJSON(w, http.StatusOK, dp.attachmentDocs())
	}
}

// attachmentDocs describes every configured attachment: its state, SAs,
// selectors and counters from the FIB and the fast path. A pool is one
// line for itself (up while a host is connected) and one per connected
// host, named by the pool and its leased address.
func (dp *dataplane) attachmentDocs() []localapi.Attachment {
	out := []localapi.Attachment{}
	st, _ := dp.stats()
	s := dp.fib.State()
	for _, ca := range dp.attachments {
		doc := localapi.Attachment{Name: ca.name, VRF: ca.vrf, Kind: ca.kind, State: "down", Configured: ca.remote,
			SiteTS: ca.site, LocalTS: ca.local, Drops: map[string]uint64{}}
		if ca.kind == config.AttachmentPool {
			doc.Pool = ca.pool.String()
			if ca.pool6.IsValid() {
				doc.Pool += "," + ca.pool6.String()
			}
			var hosts []localapi.Attachment
			if s != nil {
				for _, fa := range s.Attachments {
					if fa.Pool != ca.name {
						continue
					}
					h := localapi.Attachment{Name: fa.Name, VRF: ca.vrf, Kind: "host", State: "down", Client: fa.Client, Drops: map[string]uint64{}}
					fillAttachmentDoc(&h, fa, st)
					if len(fa.SitePrefixes) > 0 {
						h.Leased = fa.SitePrefixes[0].Addr()
					}
					hosts = append(hosts, h)
					doc.Leases++
				}
			}
			if doc.Leases > 0 {
				doc.State = "up"
			}
			out = append(append(out, doc), hosts...)
			continue
		}
		if s != nil {
			if fa := s.Attachments[ca.name]; fa != nil {
				fillAttachmentDoc(&doc, fa, st)
			}
		}
		if c, ok := st.Attachments[ca.name]; ok && (s == nil || s.Attachments[ca.name] == nil) {
			addAttachmentCounters(&doc, c)
		}
		out = append(out, doc)
	}
	slices.SortFunc(out, func(x, y localapi.Attachment) int {
		return cmp.Or(cmp.Compare(x.VRF, y.VRF), cmp.Compare(x.Name, y.Name))
	})
	return out
}

// fillAttachmentDoc adds what the FIB and the fast path know of fa.
func fillAttachmentDoc(doc *localapi.Attachment, fa *fib.Attachment, st fib.Stats) {
	doc.Gateway, doc.UDP = fa.Remote, fa.UDP
	doc.SiteTS, doc.LocalTS = fa.SitePrefixes, fa.LocalPrefixes
	if fa.Up() {
		doc.State = "up"
		doc.OutSPI, doc.Cipher = fa.Out.SPI, fa.Out.Cipher.String()
	}
	if fa.In != nil {
		doc.InSPI = fa.In.SPI
	}
	if c, ok := st.Attachments[fa.Name]; ok {
		addAttachmentCounters(doc, c)
	}
}

func addAttachmentCounters(doc *localapi.Attachment, c fib.AttachmentCounters) {
	doc.InPackets, doc.InBytes, doc.OutPackets, doc.OutBytes = c.InPackets, c.InBytes, c.OutPackets, c.OutBytes
	addDrop(doc.Drops, "ts-violation", c.TSViolation)
	addDrop(doc.Drops, "open-failed", c.OpenFailed)
	addDrop(doc.Drops, "not-ip", c.NotIP)
	addDrop(doc.Drops, "ttl-expired", c.TTLExpired)
	addDrop(doc.Drops, "no-sa", c.NoSA)
}
