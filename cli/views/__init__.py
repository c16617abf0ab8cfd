"""Human, markdown and log views of core values; JSON views live with the values' documents."""
