"""HTTP routes that are not GraphQL: browser sign-in, the invite exchange, the development OIDC provider."""
