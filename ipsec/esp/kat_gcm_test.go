package esp

// gcmVectors are the AES-GCM ESP test cases of draft-mcgrew-gcm-test-01
// section 4 ("Test Cases for the use of GCM and GMAC in IPsec ESP", March
// 2009). The values were transcribed from the draft as reproduced in Snabb's
// ESP self-test (snabbco/snabb, src/lib/ipsec/aes_gcm.lua), which states
// SPI, 64-bit sequence number and IV separately, and agree with a second
// public transcription that states key, nonce and AAD. Left out: the
// 192-bit-key case (no such transform here) and the case with SPI 0
// (reserved, NewSA refuses it). The draft's next header is 1 where its
// payload is an IPv4 packet; Seal is given the draft's value.
var gcmVectors = []katVector{
	{
		name:   "mcgrew/aes128/esn/spi4321",
		cipher: AES128GCM16,
		key:    "4c80cdefbb5d10da906ac73c3613a634" + "2e443b68", // key, salt
		spi:    0x00004321,
		seq:    0x87654321_00000000, // ESN: high half 0x87654321 only in the AAD
		esn:    true,
		iv:     0x4956ed7e3b244cfe,
		plain: "45000048699a000080114db7c0a80102" + // IPv4 UDP (DNS)
			"c0a801010a9bf15638d3010000010000" +
			"00000000045f736970045f7564700373" +
			"69700963796265726369747902646b00" +
			"00210001" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "00004321" + // SPI
			"00000000" + // sequence number, low 32 bits
			"4956ed7e3b244cfe" + // IV
			"fecf537e729d5b07dc30df528dd22b76" + // ciphertext
			"8d1b98736696a6fd348509fa13ceac34" +
			"cfa2436f14a3f3cf65925bf1f4a13c5d" +
			"15b21e1884f5ff6247aeabb786b93bce" +
			"61bc17d768fd9732" +
			"459018148f6cbe722fd04796562dfdb4", // ICV
	},
	{
		name:   "mcgrew/aes128/spia5f8",
		cipher: AES128GCM16,
		key:    "feffe9928665731c6d6a8f9467308308" + "cafebabe",
		spi:    0x0000a5f8,
		seq:    0x0000000a,
		iv:     0xfacedbaddecaf888,
		plain: "4500003e698f000080114dccc0a80102" + // IPv4 UDP (DNS)
			"c0a801010a980035002a2343b2d00100" +
			"0001000000000000037369700963796265726369747902646b00000100" +
			"01" +
			"" + // no padding: 62+2 is a multiple of 4
			"00" + // pad length
			"01", // next header
		packet: "0000a5f8" + // SPI
			"0000000a" + // sequence number
			"facedbaddecaf888" + // IV
			"deb22cd9b07c72c16e3a65beeb8df304" + // ciphertext
			"a5a5897d33ae530f1ba76d5d114d2a5c" +
			"3de81827c10e9a4f51330d0eec416642" +
			"cfbb85a5b47e48a4ec3b9ba95d918bd1" +
			"83b70d3aa8bc6ee4c309e9d85a41ad4a", // ICV
	},
	{
		name:   "mcgrew/aes256/spi4a2cbfe3",
		cipher: AES256GCM16,
		key:    "abbccddef00112233445566778899aababbccddef00112233445566778899aab" + "11223344",
		spi:    0x4a2cbfe3,
		seq:    2,
		iv:     0x0102030405060708,
		plain: "4500003069a6400080062690c0a80102" + // IPv4 TCP SYN
			"9389155e0a9e008b2dc57ee000000000" +
			"7002400020bf0000020405b401010402" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "4a2cbfe3" + // SPI
			"00000002" + // sequence number
			"0102030405060708" + // IV
			"ff425c9b724599df7a3bcd510194e00d" + // ciphertext
			"6a78107f1b0b1cbf06efae9d65a5d763" +
			"748a637985771d347f0545659f14e99d" +
			"ef842d8e" +
			"b335f4eecfdbf831824b4c4915956c96", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi42f67e3f/icmp",
		cipher: AES128GCM16,
		key:    "3de09874b388e6491988d0c3607eae1f" + "57690e43",
		spi:    0x42f67e3f,
		seq:    0x10101010_10101010,
		esn:    true,
		iv:     0x4e280000a2fca1a3,
		plain: "4500003c99c300008001cb7c40679318" + // IPv4 ICMP echo
			"010101010800085c0200430061626364" +
			"65666768696a6b6c6d6e6f7071727374" +
			"7576776162636465666768690102" + // ..., padding
			"02" + // pad length
			"01", // next header
		packet: "42f67e3f" + // SPI
			"10101010" + // sequence number, low 32 bits
			"4e280000a2fca1a3" + // IV
			"fba2caa4853cf9f0f22cb10d86dd83b0" + // ciphertext
			"fec75691cf1a04b00d1138ec9c357917" +
			"65acbd8701ad79845bf9fe3fba487bc9" +
			"1755e6662b4c8d0d1f5e22739530320a" +
			"e0d731cc978ecafaeae88f00e80d6e48", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi42f67e3f/short",
		cipher: AES128GCM16,
		key:    "3de09874b388e6491988d0c3607eae1f" + "57690e43",
		spi:    0x42f67e3f,
		seq:    0x10101010_10101010,
		esn:    true,
		iv:     0x4e280000a2fca1a3,
		plain: "4500001c42a200008001441f406793b6" + // IPv4 ICMP
			"e00000020a00f5ff" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "42f67e3f" + // SPI
			"10101010" + // sequence number, low 32 bits
			"4e280000a2fca1a3" + // IV
			"fba2ca845e5df9f0f22c3e6e86dd831e" + // ciphertext
			"1fc65792cd1af9130e1379ed" +
			"369f071f35e034be95f112e4e7d05d35", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi100/udp",
		cipher: AES128GCM16,
		key:    "abbccddef00112233445566778899aab" + "decaf888",
		spi:    0x00000100,
		seq:    1,
		esn:    true,
		iv:     0xcafedebaceface74,
		plain: "4500004933ba00007f119106c3fb1d10" + // IPv4 UDP
			"c2b1d326c02831ce0035dd7b800302d5" +
			"00004e20001e8c18d75b81dc91baa047" +
			"6b91b924b280389d92c963bac046ec95" +
			"9b6266c04722b14923" +
			"01" + // padding
			"01" + // pad length
			"01", // next header
		packet: "00000100" + // SPI
			"00000001" + // sequence number, low 32 bits
			"cafedebaceface74" + // IV
			"18a6fd42f72cbf4ab2a2ea901f73d814" + // ciphertext
			"e3e7f243d95412e1c349c1d2fbec168f" +
			"9190feebaf2cb01984e65863965d7472" +
			"b79da345e0e780191f0d2f0e0f496c22" +
			"6f2127b27db35724e7845d68" +
			"651f57e65f354f75ff17015769623436", // ICV
	},
	{
		name:   "mcgrew/aes256/esn/spi17405e67/tcp",
		cipher: AES256GCM16,
		key:    "abbccddef00112233445566778899aababbccddef00112233445566778899aab" + "73616c74",
		spi:    0x17405e67,
		seq:    0x156f3126_dd0db99b,
		esn:    true,
		iv:     0x616e640169766563,
		plain: "45080028732c00004006e9f90a010612" + // IPv4 TCP
			"0a01038f06b88023dd6bafbecb712602" +
			"50101f646d54" +
			"" + // no padding
			"00" + // pad length
			"01", // next header
		packet: "17405e67" + // SPI
			"dd0db99b" + // sequence number, low 32 bits
			"616e640169766563" + // IV
			"f2d69ecdbd5a0d5b8d5ef38bad4da58d" + // ciphertext
			"1f278fde98ef67549d524a3018d9a57f" +
			"f4d3a31ce673119e" +
			"451626c2415771e3b7eebca614c89b35", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi42f67e3f/udp",
		cipher: AES128GCM16,
		key:    "3de09874b388e6491988d0c3607eae1f" + "57690e43",
		spi:    0x42f67e3f,
		seq:    0x10101010_10101010,
		esn:    true,
		iv:     0x4e280000a2fca1a3,
		plain: "45000049333e00007f119182c3fb1d10" + // IPv4 UDP
			"c2b1d326c02831ce0035cb458003025b" +
			"000001e0001e8c18d65759d52284a035" +
			"2c71475c8880391c764d6e5ee0496b32" +
			"5ae270c03899493915" +
			"01" + // padding
			"01" + // pad length
			"01", // next header
		packet: "42f67e3f" + // SPI
			"10101010" + // sequence number, low 32 bits
			"4e280000a2fca1a3" + // IV
			"fba2cad12fc1f9f00d3cebf305410db8" + // ciphertext
			"3d7784b607323d220f24b0a97d541828" +
			"00cadb0f68d99ef0e0c0c89ae9bea888" +
			"4e52d65bc1afd0740f742444747b5b39" +
			"ab533163aad4550ee5160975" +
			"cdb608c5769189609763b8e18caa81e2", // ICV
	},
	{
		name:   "mcgrew/aes256/esn/spi17405e67/text",
		cipher: AES256GCM16,
		key:    "abbccddef00112233445566778899aababbccddef00112233445566778899aab" + "73616c74",
		spi:    0x17405e67,
		seq:    0x156f3126_dd0db99b,
		esn:    true,
		iv:     0x616e640169766563,
		plain: "636973636f0172756c65730174686501" + // ASCII text
			"6e6574776501646566696e6501746865" +
			"746563686e6f6c6f6769657301746861" +
			"7477696c6c01646566696e65746f6d6f" +
			"72726f77" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "17405e67" + // SPI
			"dd0db99b" + // sequence number, low 32 bits
			"616e640169766563" + // IV
			"d4b7ed86a1777f2ea13d6973d324c69e" + // ciphertext
			"7b43f826fb56831226508bebd2dceb18" +
			"d0a6df10e5487df074113e14c641024e" +
			"3e6773d91a62ee429b043a10e3efe6b0" +
			"12a49363412364f8" +
			"c0cac587f249e56b11e24f30e44ccc76", // ICV
	},
	{
		name:   "mcgrew/aes128/spi335467ae/empty-last-seq",
		cipher: AES128GCM16,
		key:    "7d773d00c144c525ac619d18c84a3f47" + "d9664267",
		spi:    0x335467ae,
		seq:    0xffffffff, // the last 32-bit sequence number
		iv:     0x43457e9182443bc6,
		plain: "" + // empty payload
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "335467ae" + // SPI
			"ffffffff" + // sequence number
			"43457e9182443bc6" + // IV
			"437f866b" + // ciphertext
			"cb3f699fe9b0822bac961c4504bef270", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi100/text",
		cipher: AES128GCM16,
		key:    "abbccddef00112233445566778899aab" + "decaf888",
		spi:    0x00000100,
		seq:    1,
		esn:    true,
		iv:     0xcafedebaceface74,
		plain: "746f016265016f72016e6f7401746f01" + // ASCII text
			"6265" +
			"" + // no padding
			"00" + // pad length
			"01", // next header
		packet: "00000100" + // SPI
			"00000001" + // sequence number, low 32 bits
			"cafedebaceface74" + // IV
			"29c9fc69a197d038ccdd14e2ddfcaa05" + // ciphertext
			"43332164" +
			"412503524303ed3c6c5f283843af8c3e", // ICV
	},
	{
		name:   "mcgrew/aes256/esn/spi796b6963/last-esn",
		cipher: AES256GCM16,
		key:    "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961" + "7475726e",
		spi:    0x796b6963,
		seq:    0xffffffff_ffffffff, // the last 64-bit sequence number
		esn:    true,
		iv:     0x333021696765746d,
		plain: "45000030da3a00008001df3bc0a80005" + // IPv4 ICMP echo
			"c0a800010800c6cd0200070061626364" +
			"65666768696a6b6c6d6e6f7071727374" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "796b6963" + // SPI
			"ffffffff" + // sequence number, low 32 bits
			"333021696765746d" + // IV
			"f97ab2aa356d8edce17644ac8c78e25d" + // ciphertext
			"d24dedbb29ebf1b64a274b39b49c3a86" +
			"4cd3d78ca4ae68a32b42458fb57dbe82" +
			"1dcc63b9" +
			"d0937ba2945f669368661a329fb4c053", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi3f7ef642",
		cipher: AES128GCM16,
		key:    "3de09874b388e6491988d0c3607eae1f" + "57690e43",
		spi:    0x3f7ef642,
		seq:    0x10101010_10101010,
		esn:    true,
		iv:     0x4e280000a2fca1a3,
		plain: "45000030da3a00008001df3bc0a80005" + // IPv4 ICMP echo
			"c0a800010800c6cd0200070061626364" +
			"65666768696a6b6c6d6e6f7071727374" +
			"0102" + // padding
			"02" + // pad length
			"01", // next header
		packet: "3f7ef642" + // SPI
			"10101010" + // sequence number, low 32 bits
			"4e280000a2fca1a3" + // IV
			"fba2caa8c6c5f9f0f22ca54a061210ad" + // ciphertext
			"3f6e5791cf1aca210d117cec9c357917" +
			"65acbd8701ad79845bf9fe3fba487bc9" +
			"63219306" +
			"84eecadb56912546e7a95c9740d7cb05", // ICV
	},
	{
		name:   "mcgrew/aes128/esn/spi4321/seq7",
		cipher: AES128GCM16,
		key:    "4c80cdefbb5d10da906ac73c3613a634" + "22433c64",
		spi:    0x00004321,
		seq:    0x87654321_00000007,
		esn:    true,
		iv:     0x4855ec7d3a234bfd,
		plain: "0800c6cd020007006162636465666768" + // ICMP echo, no IP header
			"696a6b6c6d6e6f707172737401020201" + // ..., padding 01 02, pad length 02, next header 01
			"",
		packet: "00004321" + // SPI
			"00000007" + // sequence number, low 32 bits
			"4855ec7d3a234bfd" + // IV
			"74752e8aeb5d873cd7c0f4acc36c4bff" + // ciphertext
			"84b7d7b98f0ca8b6acda6894bc619069" +
			"ef9cbc28fe1b56a7c4e0d58c86cd2bc0", // ICV
	},
}
