package actors

// Permission names a resource and an action, as in "customers:read".
type Permission string

// The permissions of the contract.
const (
	PermCustomersRead       Permission = "customers:read"
	PermCustomersWrite      Permission = "customers:write"
	PermCustomersDelete     Permission = "customers:delete"
	PermMessagesSend        Permission = "messages:send"
	PermConversationsRead   Permission = "conversations:read"
	PermConversationsAssign Permission = "conversations:assign"
	PermMediaWrite          Permission = "media:write"
	PermCallsWrite          Permission = "calls:write"
	PermCallsRead           Permission = "calls:read"
	PermStatsRead           Permission = "stats:read"
	PermUsersManage         Permission = "users:manage"
	PermAuditRead           Permission = "audit:read"
)

// AllPermissions lists every permission in a stable order.
var AllPermissions = []Permission{
	PermCustomersRead, PermCustomersWrite, PermCustomersDelete,
	PermMessagesSend, PermConversationsRead, PermConversationsAssign,
	PermMediaWrite, PermCallsWrite, PermCallsRead, PermStatsRead,
	PermUsersManage, PermAuditRead,
}

var rolePermissions = func() map[Role]map[Permission]bool {
	m := map[Role]map[Permission]bool{RoleAdmin: {}, RoleSupervisor: {}, RoleAgent: {}}
	for _, p := range AllPermissions {
		m[RoleAdmin][p] = true
		if p != PermUsersManage {
			m[RoleSupervisor][p] = true
		}
	}
	for _, p := range []Permission{
		PermCustomersRead, PermCustomersWrite, PermMessagesSend,
		PermConversationsRead, PermMediaWrite, PermCallsWrite, PermCallsRead,
	} {
		m[RoleAgent][p] = true
	}
	return m
}()

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool { return rolePermissions[r][p] }

// Permissions lists the permissions of r in AllPermissions order.
func (r Role) Permissions() []Permission {
	var out []Permission
	for _, p := range AllPermissions {
		if r.Can(p) {
			out = append(out, p)
		}
	}
	return out
}
