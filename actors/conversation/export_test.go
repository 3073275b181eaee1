package conversation

// RecentCap is how many outbound messages an actor holds (recentCap).
const RecentCap = recentCap
