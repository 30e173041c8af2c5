checker "stats" {}


