//! Checks of the whole checkout rather than of one crate, as one test binary: every
//! tier test tagged and ignored as its tier says (`tiers`), the Kubernetes manifests
//! and the address script (`manifests`: local and Kubernetes tiers), the Dockerfile and
//! the shell scripts (`lint`: lint tier).

mod lint;
mod manifests;
mod tiers;
