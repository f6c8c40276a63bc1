//! Diffing an element's attributes (form properties as properties) and its event bindings.

use crate::batch::{ComponentId, Edit, PropertyValue};
use crate::renderer::Renderer;
use crate::tree::{self, Attr, Binding, Shape};

/// An attribute that the browser reflects into a live form property: once the user edits the field,
/// only setting the property changes what it shows, so these are diffed as properties.
#[derive(Clone, Copy)]
enum FormProperty {
    /// An `input`'s `value`.
    Value,
    /// An `input`'s `checked`.
    Checked,
    /// An `option`'s `selected`.
    Selected,
}

impl FormProperty {
    fn of(tag: &str, attribute: &str) -> Option<Self> {
        match (tag, attribute) {
            ("input", "value") => Some(Self::Value),
            ("input", "checked") => Some(Self::Checked),
            ("option", "selected") => Some(Self::Selected),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Checked => "checked",
            Self::Selected => "selected",
        }
    }

    /// The edit for the attribute set to `value` (escaped source form); `None` when a flag that was
    /// already present stays present.
    fn set(self, node: u32, value: &str, was_present: bool) -> Option<Edit> {
        let value = match self {
            Self::Value => PropertyValue::Text(tree::decode_entities(value)),
            Self::Checked | Self::Selected if was_present => return None,
            Self::Checked | Self::Selected => PropertyValue::Bool(true),
        };
        Some(Edit::SetProperty {
            node,
            name: self.name(),
            value,
        })
    }

    /// The edit for the attribute removed.
    fn clear(self, node: u32) -> Edit {
        let value = match self {
            Self::Value => PropertyValue::Text(String::new()),
            Self::Checked | Self::Selected => PropertyValue::Bool(false),
        };
        Edit::SetProperty {
            node,
            name: self.name(),
            value,
        }
    }
}

impl Renderer {
    /// Diffs an element's attributes, each side given as its tree's shape and the element's attributes.
    pub(super) fn diff_attrs(
        &mut self,
        node: u32,
        tag: &str,
        (old_shape, old_attrs): (&Shape, &[Attr]),
        (new_shape, new_attrs): (&Shape, &[Attr]),
    ) {
        for (i, a) in new_attrs.iter().enumerate() {
            let name = new_shape.str(a.name);
            let value = new_shape.str(a.value);
            // HTML attribute names are ASCII case-insensitive: the browser's parser lowercases them and
            // `setAttribute`/`removeAttribute` lowercase theirs, so `oc` and `OC` are one attribute.
            let old_value = match old_attrs.get(i) {
                Some(o) if old_shape.str(o.name).eq_ignore_ascii_case(name) => {
                    Some(old_shape.str(o.value))
                }
                _ => old_attrs
                    .iter()
                    .find(|o| old_shape.str(o.name).eq_ignore_ascii_case(name))
                    .map(|o| old_shape.str(o.value)),
            };
            if old_value == Some(value) {
                continue;
            }
            let edit = match FormProperty::of(tag, name) {
                Some(property) => property.set(node, value, old_value.is_some()),
                None => Some(Edit::SetAttribute {
                    node,
                    name: name.to_owned(),
                    value: tree::decode_entities(value),
                }),
            };
            if let Some(edit) = edit {
                self.pass.batch.push(edit);
            }
        }
        for (i, o) in old_attrs.iter().enumerate() {
            let name = old_shape.str(o.name);
            let present = match new_attrs.get(i) {
                Some(a) if new_shape.str(a.name).eq_ignore_ascii_case(name) => true,
                _ => new_attrs
                    .iter()
                    .any(|a| new_shape.str(a.name).eq_ignore_ascii_case(name)),
            };
            if present {
                continue;
            }
            let edit = match FormProperty::of(tag, name) {
                Some(property) => property.clear(node),
                None => Edit::RemoveAttribute {
                    node,
                    name: name.to_owned(),
                },
            };
            self.pass.batch.push(edit);
        }
    }

    /// Diffs a matched element's event bindings: each new binding keeps the old handler id of the same
    /// event or gets a fresh one; an event no longer bound loses its handler and its attribute.
    pub(super) fn diff_bindings(
        &mut self,
        component: ComponentId,
        node: u32,
        old_bindings: &[Binding],
        new_bindings: &mut [Binding],
    ) {
        for binding in new_bindings.iter_mut() {
            self.diff_binding(component, node, old_bindings, binding);
        }
        for old_binding in old_bindings {
            if !new_bindings.iter().any(|b| b.kind == old_binding.kind) {
                self.handlers.remove(old_binding.handler_id);
                self.pass.batch.push(Edit::RemoveAttribute {
                    node,
                    name: old_binding.kind.attribute().to_owned(),
                });
            }
        }
    }

    fn diff_binding(
        &mut self,
        component: ComponentId,
        node: u32,
        old_bindings: &[Binding],
        binding: &mut Binding,
    ) {
        match old_bindings.iter().find(|b| b.kind == binding.kind) {
            Some(old_binding) => {
                binding.handler_id = old_binding.handler_id;
                if old_binding.render_index != binding.render_index {
                    self.handlers.retarget(binding);
                }
                if old_binding.flags == binding.flags {
                    return;
                }
            }
            None => self.handlers.bind(component, binding),
        }
        let mut value = String::new();
        tree::binding_value(binding.handler_id, binding.flags, &mut value);
        self.pass.batch.push(Edit::SetAttribute {
            node,
            name: binding.kind.attribute().to_owned(),
            value,
        });
    }
}
