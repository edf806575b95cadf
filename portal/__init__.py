"""The customer billing portal. `portal.app.create_app` builds the Flask application; the
package itself imports nothing, so loading a model or the config never loads every view."""
