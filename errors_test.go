package ldapbridge

import (
	"errors"
	"fmt"
	"testing"
)

func TestBindErrorReadsWithErrorsAs(t *testing.T) {
	err := fmt.Errorf("bind as cn=x: %w", &BindError{Code: 49, SubCode: "775"})
	var be *BindError
	if !errors.As(err, &be) || be.Code != 49 || be.SubCode != "775" {
		t.Fatalf("errors.As: %+v", be)
	}
	if got, want := be.Error(), "bind refused: LDAP result 49, Active Directory data 775"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&BindError{Code: 49}).Error(), "bind refused: LDAP result 49"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
