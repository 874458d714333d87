package main

import (
	"cmp"
	"net/http"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/config"
)

// configuredAttachment is what show reports of an attachment while it is
// down: the configuration's view.
type configuredAttachment struct {
	name, vrf, kind string
	remote          netip.Addr
	site, local     []netip.Prefix
}

// configuredAttachments lists cfg's attachments; they change only with a
// restart (reload refuses a change).
func configuredAttachments(cfg *config.Config) []configuredAttachment {
	var out []configuredAttachment
	for _, v := range cfg.VRFs {
		for _, a := range v.IPsecAttachments {
			out = append(out, configuredAttachment{name: a.Name, vrf: v.Name, kind: a.Kind, remote: a.IKE.RemoteAddress,
				site: a.SitePrefixes, local: a.LocalPrefixes})
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
// selectors and counters from the FIB and the fast path.
func (dp *dataplane) attachmentDocs() []localapi.Attachment {
	out := []localapi.Attachment{}
	st, _ := dp.stats()
	s := dp.fib.State()
	for _, ca := range dp.attachments {
		doc := localapi.Attachment{Name: ca.name, VRF: ca.vrf, Kind: ca.kind, State: "down", Configured: ca.remote,
			SiteTS: ca.site, LocalTS: ca.local, Drops: map[string]uint64{}}
		if s != nil {
			if fa := s.Attachments[ca.name]; fa != nil {
				doc.Gateway, doc.UDP = fa.Remote, fa.UDP
				doc.SiteTS, doc.LocalTS = fa.SitePrefixes, fa.LocalPrefixes
				if fa.Up() {
					doc.State = "up"
					doc.OutSPI, doc.Cipher = fa.Out.SPI, fa.Out.Cipher.String()
				}
				if fa.In != nil {
					doc.InSPI = fa.In.SPI
				}
			}
		}
		if c, ok := st.Attachments[ca.name]; ok {
			doc.InPackets, doc.InBytes, doc.OutPackets, doc.OutBytes = c.InPackets, c.InBytes, c.OutPackets, c.OutBytes
			addDrop(doc.Drops, "ts-violation", c.TSViolation)
			addDrop(doc.Drops, "open-failed", c.OpenFailed)
			addDrop(doc.Drops, "not-ip", c.NotIP)
			addDrop(doc.Drops, "ttl-expired", c.TTLExpired)
			addDrop(doc.Drops, "no-sa", c.NoSA)
		}
		out = append(out, doc)
	}
	slices.SortFunc(out, func(x, y localapi.Attachment) int {
		return cmp.Or(cmp.Compare(x.VRF, y.VRF), cmp.Compare(x.Name, y.Name))
	})
	return out
}
