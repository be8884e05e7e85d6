//! What to do with a component as a whole, decided before anything is
//! built: wrap its one boundary, or, for a plain composition, go inside
//! and plan each inner component the same way (as deep as the options
//! say).
//!
//! Planning reads each component's [`TopLevel`] once and makes the
//! stand-in ([`crate::stand_in`]) that every later stage handles in place
//! of the component's bytes.

use crate::analyze::BoundaryPlan;
use crate::compose::Composition;
use crate::error::InputError;
use crate::stand_in::{self, StandIns};
use crate::toplevel::TopLevel;
use crate::{Error, Options};

/// One component's plan: its boundary, or the parts of the composition it
/// is.
pub(crate) enum Plan<'a> {
    /// Wrap the component's own imports and exports.
    Boundary(Box<Boundary<'a>>),
    /// Instrument each inner component and compose them again.
    Composition(CompositionPlan<'a>),
}

/// A component whose boundary is wrapped.
pub(crate) struct Boundary<'a> {
    /// The component's top level.
    pub top: TopLevel<'a>,
    /// The component's stand-in.
    pub stand_in: Vec<u8>,
    /// What to wrap.
    pub plan: BoundaryPlan,
    /// Whether it has inner components that are left alone (its top level
    /// is not a plain composition).
    pub inner_left_alone: bool,
}

/// A plain composition instrumented inside.
pub(crate) struct CompositionPlan<'a> {
    /// How the inner components are wired.
    pub composition: Composition,
    /// The composition's stand-in, for its imports' types.
    pub stand_in: Vec<u8>,
    /// The inner component definitions, in order.
    pub parts: Vec<Part<'a>>,
}

/// An inner component of a composition.
pub(crate) struct Part<'a> {
    /// Its name, else `#index`.
    pub label: String,
    /// Its plan.
    pub plan: Plan<'a>,
}

impl<'a> Plan<'a> {
    /// The stand-in of the whole component.
    pub(crate) fn stand_in(&self) -> &[u8] {
        match self {
            Plan::Boundary(boundary) => &boundary.stand_in,
            Plan::Composition(composition) => &composition.stand_in,
        }
    }

    /// Plans the valid component `bytes`, whose top level is `top`.
    pub(crate) fn new(
        bytes: &'a [u8],
        top: TopLevel<'a>,
        options: &Options,
        stand_ins: &mut StandIns<'a>,
    ) -> Result<Self, Error> {
        Self::of(bytes, top, options, stand_ins, false)
    }

    /// `part`: whether `bytes` is an inner component, validated as part of
    /// its composition but not on its own (it could use its enclosing
    /// component's types): its stand-in is validated alone.
    fn of(
        bytes: &'a [u8],
        top: TopLevel<'a>,
        options: &Options,
        stand_ins: &mut StandIns<'a>,
        part: bool,
    ) -> Result<Self, Error> {
        if options.depth != Some(0)
            && let Some(composition) = Composition::of(&top)
        {
            let stand_in =
                stand_in::of(bytes).map_err(|e| Error::internal("making a stand-in", e))?;
            if part {
                validate_alone(&stand_in)?;
            }
            let inner_options = Options {
                depth: options.depth.map(|d| d - 1),
                component_name: None,
                ..options.clone()
            };
            let mut parts = Vec::new();
            for (i, inner) in composition.components(bytes).into_iter().enumerate() {
                let top = TopLevel::read(inner).map_err(InputError::Invalid)?;
                let label = top.name.clone().unwrap_or_else(|| format!("#{i}"));
                let plan = Self::of(inner, top, &inner_options, stand_ins, true)
                    .map_err(|e| e.inside(&label))?;
                parts.push(Part { label, plan });
            }
            return Ok(Plan::Composition(CompositionPlan {
                composition,
                stand_in,
                parts,
            }));
        }
        let inner_left_alone = options.depth != Some(0) && top.has_inner_components(bytes);
        let stand_in = stand_ins.add(bytes)?;
        if part {
            validate_alone(&stand_in)?;
        }
        let plan = BoundaryPlan::new(&stand_in, top.name.as_deref(), options)?;
        Ok(Plan::Boundary(Box::new(Boundary {
            top,
            stand_in,
            plan,
            inner_left_alone,
        })))
    }
}

/// Validates an inner component's stand-in on its own.
fn validate_alone(stand_in: &[u8]) -> Result<(), Error> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(stand_in)
        .map(|_| ())
        .map_err(|e| InputError::Invalid(e).into())
}
