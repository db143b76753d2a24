"""One router per noun of the reference's v3 API; each route is one client call and one conversion."""
