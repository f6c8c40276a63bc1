//! `ResumeCircuit`, and the fence check before `ConnectCircuit`: a circuit comes back from the store on
//! whichever server the browser reaches, and a stale copy of a circuit that moved on is not reconnected.
//!
//! Order of a resume: parse the secret → (still live here: a plain reconnect) → claim the entry (single
//! use, leaves a fence) → open the blob (key, app, circuit, claim, expiry, user) → check the root
//! components exist → open the circuit at the next generation and render. Every refusal is logged with the
//! circuit id and counted (`tether_circuit_resume_failures_total`); a success counts
//! `tether_circuits_resumed_total`.

use std::sync::atomic::Ordering;

use crate::hub::HubContext;

use super::app::StartPoint;
use super::hub::Shared;
use super::secret::CircuitSecret;

impl Shared {
    /// `ResumeCircuit(secret)`: takes the circuit out of the store, opens its blob, and opens the circuit
    /// here from it. `false` (with the reason logged) when there is nothing to resume.
    pub(crate) async fn resume(&self, ctx: &HubContext, secret: &str) -> bool {
        let resumed = self.resume_inner(ctx, secret).await;
        if let Some(persistence) = &self.env.persistence {
            let counter = if resumed {
                &persistence.metrics.resumed
            } else {
                &persistence.metrics.resume_failures
            };
            counter.inc();
        }
        resumed
    }

    async fn resume_inner(&self, ctx: &HubContext, secret: &str) -> bool {
        let Ok(secret) = CircuitSecret::parse(secret) else {
            tracing::warn!(
                connection_id = ctx.connection_id(),
                "ResumeCircuit with a malformed secret"
            );
            return false;
        };
        if self.registry.for_connection(ctx.connection_id()).is_some() {
            tracing::warn!(
                connection_id = ctx.connection_id(),
                "ResumeCircuit on a connection that has a circuit; refused"
            );
            return false;
        }
        if let Some(live) = self.registry.find(&secret) {
            // Still live here (the reconnect raced a persist): a plain connect is the resume, unless the
            // circuit moved on meanwhile.
            if live.fenced_out().await {
                return false;
            }
            return self.connect(ctx, &secret.expose());
        }
        let Some(persistence) = &self.env.persistence else {
            tracing::info!(circuit = %secret.id(), "resume refused: this hub has no circuit store");
            return false;
        };
        let claim = secret.key().claim();
        let claimed = match persistence.claim(secret.id(), claim).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                tracing::info!(circuit = %secret.id(), "resume refused: not in the store (never persisted, expired, or already resumed)");
                return false;
            }
            Err(error) => {
                tracing::warn!(circuit = %secret.id(), %error, "resume failed: the store failed");
                return false;
            }
        };
        let user = self
            .services
            .get::<crate::auth::Auth>()
            .and_then(|auth| auth.current_user(ctx.headers()).get())
            .map(|u| u.id.clone());
        let snapshot = match persistence.open(secret.id(), claim, user.as_deref(), &claimed.blob) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(circuit = %secret.id(), %error, "resume refused");
                return false;
            }
        };
        if let Some(unknown) = snapshot
            .roots
            .iter()
            .find(|root| !self.components.contains(&root.component))
        {
            tracing::warn!(circuit = %secret.id(), component = %unknown.component, "resume refused: unknown root component");
            return false;
        }
        let start = StartPoint {
            base_uri: snapshot.base_uri,
            uri: snapshot.uri,
            roots: snapshot.roots,
            states: snapshot.states,
            services: snapshot.services,
        };
        match self.open(ctx, secret, start) {
            Ok(circuit) => {
                // Before any write-behind fires (it waits its interval): the claim left a fence at this
                // generation, so this circuit's saves land and the old holder's do not.
                circuit
                    .generation
                    .store(claimed.generation + 1, Ordering::Release);
                tracing::info!(parent: &circuit.span, generation = claimed.generation + 1, "circuit resumed");
                true
            }
            Err(failure) => {
                tracing::warn!(?failure, "resume failed: the circuit could not be rebuilt");
                false
            }
        }
    }

    /// Before `ConnectCircuit(secret)`: ends the live circuit here when a shared store says it was resumed
    /// elsewhere, so the reconnect that follows is refused.
    pub(crate) async fn end_if_moved(&self, secret: &str) {
        let Ok(secret) = CircuitSecret::parse(secret) else {
            return;
        };
        if let Some(circuit) = self.registry.find(&secret) {
            circuit.fenced_out().await;
        }
    }
}
