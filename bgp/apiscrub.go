package bgp

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// scrubSecrets clears, in place, every secret field (see isSecretField)
// anywhere in m: Peer.Conf.AuthPassword, PeerGroup.Conf.AuthPassword, and
// whatever a later GoBGP names the same way. It walks only the message types
// that can hold one (holdsSecret), so a ListPath stream of a large RIB costs
// a map lookup per path.
func scrubSecrets(m protoreflect.Message) {
	if !m.IsValid() || !holdsSecret(m.Descriptor()) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case isSecretField(fd):
			m.Clear(fd) // Range allows mutating the current field
		case fd.IsMap():
			if vd := fd.MapValue(); isMessage(vd) && holdsSecret(vd.Message()) {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					scrubSecrets(e.Message())
					return true
				})
			}
		case isMessage(fd) && holdsSecret(fd.Message()):
			if fd.IsList() {
				l := v.List()
				for i := range l.Len() {
					scrubSecrets(l.Get(i).Message())
				}
			} else {
				scrubSecrets(v.Message())
			}
		}
		return true
	})
}

// isSecretField reports whether a field holds a secret by its name: a
// string or bytes field whose name says password or secret.
func isSecretField(fd protoreflect.FieldDescriptor) bool {
	if k := fd.Kind(); k != protoreflect.StringKind && k != protoreflect.BytesKind {
		return false
	}
	name := strings.ToLower(string(fd.Name()))
	return strings.Contains(name, "password") || strings.Contains(name, "secret")
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}

// secretHolders caches holdsSecret by message type.
var secretHolders struct {
	sync.Mutex
	known map[protoreflect.FullName]bool
}

// holdsSecret reports whether a message of type md can contain a secret
// field, directly or in a nested message. google.protobuf.Any carries its
// message as bytes and is not looked into; GoBGP uses it for NLRI and path
// attributes, which hold none.
func holdsSecret(md protoreflect.MessageDescriptor) bool {
	secretHolders.Lock()
	defer secretHolders.Unlock()
	if secretHolders.known == nil {
		secretHolders.known = map[protoreflect.FullName]bool{}
	}
	return holdsSecretLocked(md, map[protoreflect.FullName]bool{})
}

func holdsSecretLocked(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) bool {
	name := md.FullName()
	if v, ok := secretHolders.known[name]; ok {
		return v
	}
	if visiting[name] {
		return false // a cycle adds nothing its other fields do not
	}
	visiting[name] = true
	holds := false
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if isSecretField(fd) || isMessage(fd) && holdsSecretLocked(fd.Message(), visiting) {
			holds = true
			break
		}
	}
	delete(visiting, name)
	if len(visiting) == 0 {
		secretHolders.known[name] = holds // inner results of a cycle may be partial
	}
	return holds
}
