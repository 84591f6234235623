package demodir

import "strings"

// attrAliases maps alternative attribute names to the canonical (lowercase)
// name, as the core, cosine and inetorgperson schemas define them.
var attrAliases = map[string]string{
	"commonname": "cn", "surname": "sn", "gn": "givenname", "userid": "uid",
	"rfc822mailbox": "mail", "mobiletelephonenumber": "mobile",
	"organizationname": "o", "organizationalunitname": "ou",
	"domaincomponent": "dc", "localityname": "l", "stateorprovincename": "st",
	"countryname": "c", "pagertelephonenumber": "pager", "hometelephonenumber": "homephone",
}

// canonicalAttr lowercases an attribute description, drops its options
// (";binary", ";lang-de") and resolves aliases.
func canonicalAttr(name string) string {
	name, _, _ = strings.Cut(name, ";")
	name = strings.ToLower(strings.TrimSpace(name))
	if a, ok := attrAliases[name]; ok {
		return a
	}
	return name
}

// schemaAttrs are the attribute types the server knows (core, cosine,
// inetorgperson, nis and the operational ones). An assertion on an unknown
// type is undefined, so neither it nor its negation matches.
var schemaAttrs = func() map[string]bool {
	names := `objectclass cn sn givenname initials uid mail title departmentnumber
	telephonenumber mobile homephone pager facsimiletelephonenumber employeenumber
	employeetype displayname description o ou dc l st c street postalcode
	postaladdress postofficebox physicaldeliveryofficename registeredaddress
	member uniquemember memberuid owner seealso manager secretary businesscategory
	carlicense roomnumber preferredlanguage labeleduri jpegphoto photo audio
	usercertificate usersmimecertificate userpkcs12 x500uniqueidentifier
	userpassword uidnumber gidnumber homedirectory loginshell gecos name
	shadowlastchange shadowmin shadowmax shadowwarning shadowinactive shadowexpire
	shadowflag homepostaladdress
	structuralobjectclass entryuuid creatorsname createtimestamp modifiersname
	modifytimestamp entrydn subschemasubentry hassubordinates memberof entrycsn
	namingcontexts supportedcontrol supportedextension supportedldapversion
	supportedsaslmechanisms supportedfeatures vendorname vendorversion`
	m := map[string]bool{}
	for _, n := range strings.Fields(names) {
		m[n] = true
	}
	return m
}()
