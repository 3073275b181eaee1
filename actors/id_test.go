package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewIDSortsByCreation(t *testing.T) {
	prev := NewID()
	require.Len(t, prev, 32)
	for i := 0; i < 100000; i++ {
		id := NewID()
		require.Greater(t, id, prev)
		prev = id
	}
}

func TestRolePermissions(t *testing.T) {
	require.True(t, RoleAdmin.Can(PermUsersManage))
	require.False(t, RoleSupervisor.Can(PermUsersManage))
	require.True(t, RoleSupervisor.Can(PermAuditRead))
	require.False(t, RoleAgent.Can(PermCustomersDelete))
	require.False(t, RoleAgent.Can(PermConversationsAssign))
	require.True(t, RoleAgent.Can(PermMessagesSend))
	require.Len(t, RoleAdmin.Permissions(), len(AllPermissions))
	require.False(t, Role("owner").Can(PermCustomersRead))
}
