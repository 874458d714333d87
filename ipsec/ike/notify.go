package ike

import "fmt"

// NotifyType is a Notify Message Type (RFC 7296 section 3.10.1). Values
// below 16384 are errors.
type NotifyType uint16

// Notify types used here.
const (
	NotifyUnsupportedCriticalPayload NotifyType = 1
	NotifyInvalidIKESPI              NotifyType = 4
	NotifyInvalidMajorVersion        NotifyType = 5
	NotifyInvalidSyntax              NotifyType = 7
	NotifyInvalidMessageID           NotifyType = 9
	NotifyInvalidSPI                 NotifyType = 11
	NotifyNoProposalChosen           NotifyType = 14
	NotifyInvalidKEPayload           NotifyType = 17
	NotifyAuthenticationFailed       NotifyType = 24
	NotifySinglePairRequired         NotifyType = 34
	NotifyNoAdditionalSAs            NotifyType = 35
	NotifyInternalAddressFailure     NotifyType = 36
	NotifyFailedCPRequired           NotifyType = 37
	NotifyTSUnacceptable             NotifyType = 38
	NotifyInvalidSelectors           NotifyType = 39
	NotifyTemporaryFailure           NotifyType = 43
	NotifyChildSANotFound            NotifyType = 44
	// NotifyTSMaxQueue: the responder will not create more per-resource
	// child SAs with these selectors (RFC 9611 section 4).
	NotifyTSMaxQueue NotifyType = 48

	NotifyInitialContact       NotifyType = 16384
	NotifySetWindowSize        NotifyType = 16385
	NotifyNATDetectionSourceIP NotifyType = 16388
	NotifyNATDetectionDestIP   NotifyType = 16389
	NotifyCookie               NotifyType = 16390
	NotifyUseTransportMode     NotifyType = 16391
	NotifyRekeySA              NotifyType = 16393
	NotifyESPTFCPaddingNotSupp NotifyType = 16394
	NotifyNonFirstFragsAlso    NotifyType = 16395
	// NotifySignatureHashAlgorithms lists the hashes a peer verifies
	// signatures with (RFC 7427 section 4), sent in IKE_SA_INIT.
	NotifySignatureHashAlgorithms NotifyType = 16431
	// NotifySAResourceInfo marks a child SA as one of a group with the
	// same selectors, each on its own resource (RFC 9611 section 4).
	NotifySAResourceInfo NotifyType = 16444
)

var notifyNames = map[NotifyType]string{
	NotifyUnsupportedCriticalPayload: "UNSUPPORTED_CRITICAL_PAYLOAD",
	NotifyInvalidIKESPI:              "INVALID_IKE_SPI",
	NotifyInvalidMajorVersion:        "INVALID_MAJOR_VERSION",
	NotifyInvalidSyntax:              "INVALID_SYNTAX",
	NotifyInvalidMessageID:           "INVALID_MESSAGE_ID",
	NotifyInvalidSPI:                 "INVALID_SPI",
	NotifyNoProposalChosen:           "NO_PROPOSAL_CHOSEN",
	NotifyInvalidKEPayload:           "INVALID_KE_PAYLOAD",
	NotifyAuthenticationFailed:       "AUTHENTICATION_FAILED",
	NotifySinglePairRequired:         "SINGLE_PAIR_REQUIRED",
	NotifyNoAdditionalSAs:            "NO_ADDITIONAL_SAS",
	NotifyInternalAddressFailure:     "INTERNAL_ADDRESS_FAILURE",
	NotifyFailedCPRequired:           "FAILED_CP_REQUIRED",
	NotifyTSUnacceptable:             "TS_UNACCEPTABLE",
	NotifyInvalidSelectors:           "INVALID_SELECTORS",
	NotifyTemporaryFailure:           "TEMPORARY_FAILURE",
	NotifyChildSANotFound:            "CHILD_SA_NOT_FOUND",
	NotifyInitialContact:             "INITIAL_CONTACT",
	NotifySetWindowSize:              "SET_WINDOW_SIZE",
	NotifyNATDetectionSourceIP:       "NAT_DETECTION_SOURCE_IP",
	NotifyNATDetectionDestIP:         "NAT_DETECTION_DESTINATION_IP",
	NotifyCookie:                     "COOKIE",
	NotifyUseTransportMode:           "USE_TRANSPORT_MODE",
	NotifyRekeySA:                    "REKEY_SA",
	NotifyESPTFCPaddingNotSupp:       "ESP_TFC_PADDING_NOT_SUPPORTED",
	NotifyNonFirstFragsAlso:          "NON_FIRST_FRAGMENTS_ALSO",
	NotifySignatureHashAlgorithms:    "SIGNATURE_HASH_ALGORITHMS",
	NotifyTSMaxQueue:                 "TS_MAX_QUEUE",
	NotifySAResourceInfo:             "SA_RESOURCE_INFO",
}

func (t NotifyType) String() string {
	if n, ok := notifyNames[t]; ok {
		return n
	}
	return fmt.Sprintf("NOTIFY(%d)", uint16(t))
}

// IsError reports whether t is an error type (below 16384).
func (t NotifyType) IsError() bool { return t < 16384 }
