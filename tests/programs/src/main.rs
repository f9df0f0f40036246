//! Realistic programs differentiated on either route (see Cargo.toml). Each module's `run`
//! panics with a message when a derivative disagrees with its finite differences.
#![cfg_attr(not(feature = "stable"), feature(autodiff))]

#[cfg(not(feature = "stable"))]
pub use std::autodiff as ad;
#[cfg(feature = "stable")]
pub use oxidase::autodiff as ad;

mod check;
mod fit_result;
mod mlp;
mod gp_likelihood;
mod lstm;
mod hypergradient;
mod gmm;
mod heat_inverse;
mod struct_params;
mod neo_hookean;
mod lennard_jones;
mod pendulum_rk4;
mod burgers;
mod arrhenius_kinetics;
mod energy_balance;
mod two_link_arm;
mod reprojection;
mod kalman_likelihood;
mod momentum_fit;
mod black_scholes;
mod attention_head;
mod generic_free_energy;
mod model_zoo;
mod stencil_table;
mod trimmed_fit;
mod containers;
mod logistic_regression;
mod fem_tet;
mod robot_arm_3d;
mod camera_pose;
mod spring_network;
mod thread_workspace;
mod softmax_regression_ndarray;
mod ndarray_regression_net;
mod covariance_rayleigh;
mod heat2d_ndarray;
mod orbit_leapfrog;
mod ridge_dmatrix;
mod nearest_cell;
mod quadratic_forms;
mod csr_least_squares;
mod material_models;
mod expression_tree;
mod gauss_pivot;
mod mixed_precision;
mod holt_forecast;
mod loop_shapes;
mod implicit_euler;
mod out_of_line_model;
mod table_lookup;
mod rigid_fit;
mod weighted_kmeans;

fn main() {
    let programs: &[(&str, fn())] = &[
        ("fit_result", fit_result::run),
        ("lennard_jones", lennard_jones::run),
        ("neo_hookean", neo_hookean::run),
        ("pendulum_rk4", pendulum_rk4::run),
        ("heat_inverse", heat_inverse::run),
        ("struct_params", struct_params::run),
        ("gmm", gmm::run),
        ("mlp", mlp::run),
        ("gp_likelihood", gp_likelihood::run),
        ("lstm", lstm::run),
        ("hypergradient", hypergradient::run),
        ("burgers", burgers::run),
        ("arrhenius_kinetics", arrhenius_kinetics::run),
        ("energy_balance", energy_balance::run),
        ("two_link_arm", two_link_arm::run),
        ("reprojection", reprojection::run),
        ("kalman_likelihood", kalman_likelihood::run),
        ("momentum_fit", momentum_fit::run),
        ("black_scholes", black_scholes::run),
        ("attention_head", attention_head::run),
        ("generic_free_energy", generic_free_energy::run),
        ("model_zoo", model_zoo::run),
        ("stencil_table", stencil_table::run),
        ("trimmed_fit", trimmed_fit::run),
        ("containers", containers::run),
        ("logistic_regression", logistic_regression::run),
        ("fem_tet", fem_tet::run),
        ("robot_arm_3d", robot_arm_3d::run),
        ("camera_pose", camera_pose::run),
        ("spring_network", spring_network::run),
        ("thread_workspace", thread_workspace::run),
        ("softmax_regression_ndarray", softmax_regression_ndarray::run),
        ("ndarray_regression_net", ndarray_regression_net::run),
        ("covariance_rayleigh", covariance_rayleigh::run),
        ("heat2d_ndarray", heat2d_ndarray::run),
        ("orbit_leapfrog", orbit_leapfrog::run),
        ("ridge_dmatrix", ridge_dmatrix::run),
        ("nearest_cell", nearest_cell::run),
        ("quadratic_forms", quadratic_forms::run),
        ("csr_least_squares", csr_least_squares::run),
        ("material_models", material_models::run),
        ("expression_tree", expression_tree::run),
        ("gauss_pivot", gauss_pivot::run),
        ("mixed_precision", mixed_precision::run),
        ("holt_forecast", holt_forecast::run),
        ("loop_shapes", loop_shapes::run),
        ("implicit_euler", implicit_euler::run),
        ("table_lookup", table_lookup::run),
        ("out_of_line_model", out_of_line_model::run),
        ("rigid_fit", rigid_fit::run),
        ("weighted_kmeans", weighted_kmeans::run),
    ];
    let mut failed = Vec::new();
    for (name, run) in programs {
        match std::panic::catch_unwind(run) {
            Ok(()) => println!("ok   {name}"),
            Err(_) => {
                println!("FAIL {name}");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("{} of {} programs failed: {failed:?}", failed.len(), programs.len());
        std::process::exit(1);
    }
    println!("all {} programs passed", programs.len());
}
