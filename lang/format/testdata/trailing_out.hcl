checker "stats" {}
