"""Users, schools (the tenants), classrooms and roles, plus the access helpers every app
uses to stay inside one school. Knows no other app."""
